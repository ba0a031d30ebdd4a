// ScopedUtf8Ctype: runs a block with the calling thread's LC_CTYPE set to C.UTF-8.
//
// libarchive converts tar member names between the locale's multibyte encoding and the
// UTF-8 of pax headers. Under the "C" locale (the default of any program that never calls
// setlocale) a non-ASCII name has no multibyte form: libarchive 3.6 then crashes writing the
// pax header, and archive_entry_pathname_utf8() returns NULL when reading. Tar readers and
// writers hold one of these around their libarchive calls. uselocale() changes this thread
// only; the previous locale comes back on destruction.
#pragma once

#include <locale.h>

namespace rsclip::data {

class ScopedUtf8Ctype {
 public:
  ScopedUtf8Ctype() : locale_(newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr)) {
    if (locale_) previous_ = uselocale(locale_);
  }
  ~ScopedUtf8Ctype() {
    if (!locale_) return;
    uselocale(previous_);
    freelocale(locale_);
  }
  ScopedUtf8Ctype(const ScopedUtf8Ctype&) = delete;
  ScopedUtf8Ctype& operator=(const ScopedUtf8Ctype&) = delete;

  // False where the C library has no C.UTF-8 locale (names must then be ASCII).
  bool active() const { return locale_ != nullptr; }

 private:
  locale_t locale_;
  locale_t previous_ = nullptr;
};

}  // namespace rsclip::data
