// Atomic file writes: write to "<path>.tmp-<pid>", fsync, rename over <path>, fsync the
// directory. A reader (or a resumed run) sees the old file or the new one, never a torn one.
#pragma once

#include <filesystem>
#include <functional>
#include <string_view>

namespace rsclip {

// Calls write(tmp_path) to produce the file, then commits it atomically to `path`.
// On failure the temporary file is removed and the old `path` is untouched.
void write_file_atomic(const std::filesystem::path& path,
                       const std::function<void(const std::filesystem::path& tmp)>& write);

// Convenience: atomically replace `path` with `bytes`.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Reads a whole file; rsclip::Error naming the file if it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace rsclip
