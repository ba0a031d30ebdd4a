// Empty translation unit that owns the shared precompiled header (CMakeLists.txt: rsclip_pch).
