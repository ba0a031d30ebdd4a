#include "data/eval/csv_reader.h"

#include <iconv.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/utf8.h"

namespace rsclip::data {

std::size_t CsvTable::column(const std::string& name, const std::string& file) const {
  auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) {
    std::string cols;
    for (const auto& h : header) cols += (cols.empty() ? "" : ", ") + h;
    throw Error("no column '" + name + "'", file, "the header has: " + cols);
  }
  return static_cast<std::size_t>(it - header.begin());
}

std::string to_utf8(const std::string& bytes, const std::string& encoding, const std::string& where) {
  std::string lower = encoding;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower == "utf-8" || lower == "utf8") {
    if (!is_valid_utf8(bytes)) {
      throw Error("text is not valid UTF-8", where,
                  "pass the file's encoding (e.g. --encoding gb18030 for RSICD's CSV)");
    }
    return bytes;
  }
  iconv_t cd = ::iconv_open("UTF-8", encoding.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) throw Error("unknown text encoding '" + encoding + "'", where);
  std::string out(bytes.size() * 4 + 16, '\0');
  char* in_ptr = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  char* out_ptr = out.data();
  std::size_t out_left = out.size();
  const std::size_t rc = ::iconv(cd, &in_ptr, &in_left, &out_ptr, &out_left);
  const int err = errno;
  ::iconv_close(cd);
  if (rc == static_cast<std::size_t>(-1)) {
    throw Error(fmt::format("invalid {} byte sequence at byte {}{}", encoding, bytes.size() - in_left,
                            err == EINVAL ? " (truncated)" : ""),
                where);
  }
  out.resize(out.size() - out_left);
  return out;
}

CsvTable read_csv(const std::filesystem::path& path, char sep, const std::string& encoding) {
  std::string text = to_utf8(read_file(path), encoding, path.string());
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);

  CsvTable table;
  std::vector<std::vector<std::string>> records;
  std::vector<int> lines;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, record_line = 1;
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_record = [&] {
    end_field();
    if (!(record.size() == 1 && record[0].empty())) {  // skip blank lines, as pandas does
      records.push_back(std::move(record));
      lines.push_back(record_line);
    }
    record.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == sep) {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      record_line = ++line;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) throw Error("unterminated quoted field", fmt::format("{}:{}", path.string(), record_line));
  if (field_started || !record.empty()) end_record();
  if (records.empty()) throw Error("CSV file is empty", path.string());

  table.header = std::move(records[0]);
  for (std::size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != table.header.size()) {
      throw Error(fmt::format("row has {} fields, the header has {}", records[r].size(), table.header.size()),
                  fmt::format("{}:{}", path.string(), lines[r]), "quote fields that contain the separator");
    }
    table.rows.push_back(std::move(records[r]));
    table.row_lines.push_back(lines[r]);
  }
  return table;
}

}  // namespace rsclip::data
