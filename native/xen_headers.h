// The Xen headers, included once and the same way everywhere. They have no extern "C" guards of their own, and
// they need the GNU dialect of C++ (Node's default gnu++17; never build with -std=c++17).
#pragma once

extern "C" {
#include <xenctrl.h>
#include <xentoollog.h>
#include <libxl.h>
#include <libxl_utils.h>
}
