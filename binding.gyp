# The xenclaim native addon: a thin N-API layer over libxenctrl and libxenlight (Xen 4.17, Debian's libxen-dev).
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
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["<!@(pkg-config --cflags xencontrol xenlight xentoollog)", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["<!@(pkg-config --cflags xencontrol xenlight xentoollog)", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["<!@(pkg-config --libs xencontrol xenlight xentoollog)"]
    }
  ],
  "variables": {
    "with_sigchld_probe%": "<!(node -p \"require('fs').existsSync('test/native/sigchld-probe/probe.cc') ? 1 : 0\")"
  },
  "conditions": [
    ["with_sigchld_probe==1", {
      "targets": [
        {
          # Test-only: native/sigchld_chain.cc driven by a stand-in for libxl (test/native/child-processes.test.ts),
          # so the SIGCHLD negotiation is checked on machines without Xen too. Built only in a checkout that has the
          # tests: the published package ships no test/ directory.
          "target_name": "sigchld_probe",
          "sources": ["test/native/sigchld-probe/probe.cc", "native/sigchld_chain.cc"],
          "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
          "defines": ["NAPI_VERSION=8"],
          "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
        }
      ]
    }]
  ]
}
