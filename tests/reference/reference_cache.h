// Reference outputs of the Python stack, generated once and shared by the test cases that
// read them. CTest runs every case in its own process, so an output is written once under
// <build>/test-cache/ and renamed into place (parallel cases never read half a file; one
// generates while the others wait on a lock). Its name carries a hash of what it depends
// on: the generator script and the files it imports, its arguments, and the Python
// environment that ran it (the interpreter and every installed distribution with its
// version), so an edited script or a changed venv writes a new one.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/reference/test_support.h"

namespace rsclip::testing {

// The interpreter's real path and the sorted names of the venv's *.dist-info folders
// (NAME-VERSION.dist-info), read from the file system: no Python start-up per test.
inline std::string python_environment_fingerprint() {
  namespace fs = std::filesystem;
  const fs::path python = fs::weakly_canonical(RSCLIP_PYTHON);
  std::vector<std::string> dists;
  const fs::path lib = fs::path(RSCLIP_PYTHON).parent_path().parent_path() / "lib";
  std::error_code ec;
  for (fs::recursive_directory_iterator it(lib, ec), end; !ec && it != end; it.increment(ec)) {
    if (it.depth() > 2) it.disable_recursion_pending();  // lib/pythonX.Y/site-packages/*.dist-info
    if (it->path().extension() == ".dist-info") dists.push_back(it->path().filename().string());
  }
  std::sort(dists.begin(), dists.end());
  std::string out = python.string();
  for (const auto& d : dists) out += "\n" + d;
  return out;
}

// Runs `python inputs[0] args... OUT` unless a cached OUT for the same inputs, arguments and
// Python environment exists; returns OUT. `inputs`: repository-relative files whose content
// the output depends on (the script first). `suffix` ends OUT's name (".safetensors", or ""
// for a directory).
inline std::filesystem::path cached_reference(const std::vector<std::string>& inputs,
                                              const std::vector<std::string>& args, const std::string& suffix) {
  namespace fs = std::filesystem;
  std::stringstream content;
  for (const auto& f : inputs) content << std::ifstream(source_dir() / f, std::ios::binary).rdbuf() << '\0';
  for (const auto& a : args) content << a << '\0';
  content << python_environment_fingerprint();
  const std::size_t key = std::hash<std::string>{}(content.str());
  const fs::path dir = fs::path(RSCLIP_BINARY_DIR) / "test-cache";
  fs::create_directories(dir);
  std::string stem = fs::path(inputs.front()).stem().string();
  for (const auto& a : args) stem += "-" + a;
  const fs::path out = dir / (stem + "_" + std::to_string(key) + suffix);
  if (fs::exists(out)) return out;
  const int lock = ::open((out.string() + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
  if (lock >= 0) ::flock(lock, LOCK_EX);
  if (!fs::exists(out)) {
    const fs::path tmp = out.string() + ".tmp" + std::to_string(::getpid());
    fs::remove_all(tmp);
    std::vector<std::string> argv = args;
    argv.push_back(tmp.string());
    run_python(inputs.front(), argv);
    fs::rename(tmp, out);
  }
  if (lock >= 0) ::close(lock);  // releases the lock
  return out;
}

}  // namespace rsclip::testing
