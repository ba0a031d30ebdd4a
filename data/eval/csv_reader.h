// CSV files as pandas.read_csv reads GeoRSCLIP's retrieval lists: a header row, fields
// separated by `sep`, RFC 4180 quoting ("a, b" and "" for a quote), LF or CRLF line ends,
// any text encoding iconv knows (RSICD's list is gb18030) converted to UTF-8, UTF-8 BOM
// dropped. Rows with a different field count are errors naming the line.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rsclip::data {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> row_lines;  // 1-based line of each row's start, for errors

  // Index of a header column; rsclip::Error listing the columns if absent.
  std::size_t column(const std::string& name, const std::string& file) const;
};

CsvTable read_csv(const std::filesystem::path& path, char sep = ',', const std::string& encoding = "utf-8");

// Converts bytes in `encoding` (an iconv name: utf-8, gb18030, latin1, ...) to UTF-8;
// invalid sequences are an error naming `where`.
std::string to_utf8(const std::string& bytes, const std::string& encoding, const std::string& where);

}  // namespace rsclip::data
