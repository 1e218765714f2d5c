# The xenclaim native addon: a thin N-API layer over libxenctrl and libxenlight (Debian's libxen-dev: Xen 4.17 on
# Debian 12, 4.20 on Debian 13; native/xen_headers.h detects what differs from the headers' interface versions).
# C++ exceptions are enabled (node-addon-api's except.gypi): a failed Xen call never throws across the N-API
# boundary by itself; every worker turns it into a rejected promise carrying a XenError-shaped object.
# The C++ standard is deliberately left to Node's default (gnu++17): the Xen headers need the GNU dialect.
{
  "targets": [
    {
      "target_name": "xenclaim",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/build_target.cc",
        "native/xen_logger.cc",
        "native/xen_error.cc",
        "native/xen_worker.cc",
        "native/xc_handle.cc",
        "native/xc_host.cc",
        "native/xc_domain.cc",
        "native/xc_tmem.cc",
        "native/domain_frames.cc",
        "native/sigchld_chain.cc",
        "native/libxl_context.cc",
        "native/libxl_context_pool.cc",
        "native/libxl_guest.cc",
        "native/libxl_memory.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": [
        "NAPI_VERSION=8",
        # What `xenclaim info` reports as the addon's build target (native/build_target.cc).
        "XENCLAIM_XENCTRL_VERSION=\"<!(pkg-config --modversion xencontrol)\"",
        "XENCLAIM_XENLIGHT_VERSION=\"<!(pkg-config --modversion xenlight)\""
      ],
      "cflags": ["<!@(pkg-config --cflags xencontrol xenlight xentoollog)", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["<!@(pkg-config --cflags xencontrol xenlight xentoollog)", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["<!@(pkg-config --libs xencontrol xenlight xentoollog)"]
    }
  ],
  "variables": {
    "with_test_targets%": "<!(node -p \"require('fs').existsSync('test/native') ? 1 : 0\")"
  },
  "conditions": [
    ["with_test_targets==1", {
      "targets": [
        {
          # Test-only: native/sigchld_chain.cc driven by a stand-in for libxl (test/native/child-processes.test.ts),
          # so the SIGCHLD negotiation is checked on machines without Xen too. The test-only targets are built only in
          # a checkout that has the tests: the published package ships no test/ directory.
          "target_name": "sigchld_probe",
          "sources": ["test/native/sigchld-probe/probe.cc", "native/sigchld_chain.cc"],
          "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
          "defines": ["NAPI_VERSION=8"],
          "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
        },
        {
          # Test-only: maps one page of a domain (test/native/page-pin), which keeps a destroyed domain dying on real
          # Xen until it is unmapped, so the conformance suite can ask what a claim on a dying domain does.
          "target_name": "page_pin_probe",
          "sources": ["test/native/page-pin/page_pin.cc"],
          "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
          "defines": ["NAPI_VERSION=8"],
          "cflags_cc": ["<!@(pkg-config --cflags xencontrol xenforeignmemory)", "-Wall", "-Wextra", "-Wno-unused-parameter"],
          "libraries": ["<!@(pkg-config --libs xencontrol xenforeignmemory)"]
        }
      ]
    }]
  ]
}
