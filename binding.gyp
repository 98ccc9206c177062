{
  # One addon, kiseki_native.node, loaded with node-gyp-build. Each native concept lives in its own
  # folder and registers itself from native/addon.cc; every .cc under native/ is compiled.
  # libfabric and libibverbs are NOT linked: native/transport dlopens them (DESIGN D5), so the addon
  # loads on machines without them. libfuse3 is linked: a client without it cannot mount anyway.
  "targets": [
    {
      "target_name": "kiseki_native",
      "sources": ["<!@(ls -1 native/*.cc native/*/*.cc)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "FUSE_USE_VERSION=35", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
                    "<!@(pkg-config --cflags fuse3)"],
      "libraries": ["<!@(pkg-config --libs fuse3)", "-ldl", "-lpthread"]
    }
  ]
}
