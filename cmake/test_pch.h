// Precompiled for the test executables (tests/CMakeLists.txt: rsclip_test_pch, built -O0 as
// the tests are): the torch header of the libraries plus GoogleTest.
#pragma once
#include <gtest/gtest.h>

#include "torch_pch.h"
