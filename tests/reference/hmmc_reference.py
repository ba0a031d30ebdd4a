"""HMMC as published (Yuan, Zhan, Xiong, TGRS 2023), written out term by term.

    L(a, b) = sum_i max_{j != i} [alpha + s(a_i, b_j) - s(a_i, b_i)]_+
            + sum_j max_{i != j} [alpha + s(a_i, b_j) - s(a_j, b_j)]_+
    L_HMMC  = L(v, t) + L(v, v~) + L(t, t~)

s is cosine similarity, alpha the margin (0.2). The maximum over the negatives is
torch.max(dim=0), which picks the first of tied entries, as VSE++'s `.max(1)[0]`; that
decides where the (sub)gradient of a tie goes.

    hmmc_reference.py OUT.safetensors   dumps random and tie-laden cases with gradients
"""
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file


def hardest_negative_hinge(a, b, margin):
    s = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
    n = s.shape[0]
    total = s.new_zeros(())
    for i in range(n):  # anchor a_i, hardest b_j
        negatives = torch.cat([s[i, :i], s[i, i + 1:]])
        total = total + (margin + negatives - s[i, i]).clamp(min=0).max(dim=0).values
    for j in range(n):  # anchor b_j, hardest a_i
        negatives = torch.cat([s[:j, j], s[j + 1:, j]])
        total = total + (margin + negatives - s[j, j]).clamp(min=0).max(dim=0).values
    return total


def hmmc_loss(v, t, v_aug, t_aug, margin=0.2):
    return (hardest_negative_hinge(v, t, margin) + hardest_negative_hinge(v, v_aug, margin)
            + hardest_negative_hinge(t, t_aug, margin))


def cases():
    gen = torch.Generator().manual_seed(2023)
    n, d = 16, 8  # small d: random negatives come close enough for every hinge to matter
    v, t = torch.randn(n, d, generator=gen), torch.randn(n, d, generator=gen)
    yield "random", v, t, v + torch.randn(n, d, generator=gen), t + torch.randn(n, d, generator=gen), 0.2

    # Ties: two captions identical and both the hardest negative of image 0; an image
    # duplicated; two augmented views identical. Wide margin so the hinges are active.
    n, d = 10, 16
    v, t = torch.randn(n, d, generator=gen), torch.randn(n, d, generator=gen)
    t[2] = 0.9 * v[0] + 0.1 * torch.randn(d, generator=gen)
    t[5] = t[2]
    v[7] = v[1]
    v_aug = v + 0.2 * torch.randn(n, d, generator=gen)
    v_aug[4] = v_aug[3]
    t_aug = t + 0.2 * torch.randn(n, d, generator=gen)
    yield "ties", v, t, v_aug, t_aug, 0.5

    # A batch where every negative already satisfies the margin: loss and gradients 0.
    eye = torch.eye(8)
    yield "satisfied", eye, eye.clone(), eye.clone(), eye.clone(), 0.2


def main(out):
    tensors = {}
    for name, *inputs, margin in cases():
        leaves = [x.clone().requires_grad_(True) for x in inputs]
        loss = hmmc_loss(*leaves, margin=margin)
        loss.backward()
        for key, x, leaf in zip(("v", "t", "v_aug", "t_aug"), inputs, leaves):
            tensors[f"{name}.{key}"] = x.contiguous()
            tensors[f"{name}.grad_{key}"] = leaf.grad.contiguous()
        tensors[f"{name}.loss"] = loss.detach()
        tensors[f"{name}.margin"] = torch.tensor(margin, dtype=torch.float64)
        # The three pairs separately, to localise a mismatch.
        for pair, (a, b) in {"vt": (0, 1), "vv": (0, 2), "tt": (1, 3)}.items():
            tensors[f"{name}.L_{pair}"] = hardest_negative_hinge(inputs[a], inputs[b], margin)
    save_file(tensors, out)


if __name__ == "__main__":
    main(sys.argv[1])
