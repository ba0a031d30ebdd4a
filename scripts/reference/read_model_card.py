"""Reads an `rsclip export` model card (DIR/README.md) the way the Hugging Face hub does
(huggingface_hub.ModelCard: YAML front matter, model-index parsed into evaluation results)
and prints what it found as JSON: {"metadata": {...}, "results": [{task, dataset, metric,
value}, ...]}. Exit status 1 if the card does not parse.

usage: read_model_card.py DIR/README.md
"""
import json
import sys

from huggingface_hub import ModelCard


def main():
    card = ModelCard.load(sys.argv[1])
    data = card.data
    results = [{"task": r.task_type, "dataset": r.dataset_name, "metric": r.metric_name, "value": r.metric_value}
               for r in (data.eval_results or [])]
    meta = data.to_dict()
    meta.pop("model-index", None)
    print(json.dumps({"metadata": meta, "model_name": data.model_name, "results": results}))


if __name__ == "__main__":
    main()
