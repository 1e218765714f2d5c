// The Xen headers, included once and the same way everywhere. They have no extern "C" guards of their own, and
// they need the GNU dialect of C++ (Node's default gnu++17; never build with -std=c++17).
//
// xenclaim builds against the libxen-dev of Debian 12 (Xen 4.17) and Debian 13 (Xen 4.20). What differs is
// detected here from the installed headers' interface versions, never from a distribution's name.
#pragma once

// The libxl API the addon is written against (tools/include/libxl.h, "LIBXL_API_VERSION"): 4.14's, which every
// libxl from 4.14 on still offers unchanged (4.17 and 4.20 accept it), so a newer libxl cannot change a call's
// signature under the addon.
#define LIBXL_API_VERSION 0x041400

extern "C" {
#include <xenctrl.h>
#include <xentoollog.h>
#include <libxl.h>
#include <libxl_utils.h>
}

// Xen 4.18 (domctl interface 0x16) replaced xc_domain_getinfo with xc_domain_getinfo_single, and
// XEN_DOMCTL_getdomaininfo stopped answering an unknown domid with the next domain: it fails with ESRCH
// (xen commit 31c6554974 "domctl: Modify XEN_DOMCTL_getdomaininfo to fail if domid is not found").
// Before 4.18 one domain is read with xc_domain_getinfolist (the sysctl), checking the domid it answers with.
#if XEN_DOMCTL_INTERFACE_VERSION >= 0x16
#define XENCLAIM_HAVE_GETINFO_SINGLE 1
#else
#define XENCLAIM_HAVE_GETINFO_SINGLE 0
#endif
