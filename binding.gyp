# node-gyp build of the addon (for node-gyp toolchains such as electron-rebuild):
#   npx node-gyp rebuild
# Every LibTorch path comes from scripts/find-libtorch.js, the same locator CMakeLists.txt uses.
{
  "targets": [
    {
      "target_name": "sgdr_native",
      "sources": [
        "<!@(node scripts/native-sources.js)"
      ],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.js --include-dirs)",
        "<!@(node scripts/find-libtorch.js --c10d-include-dirs)"
      ],
      "defines": [
        "<!@(node scripts/find-libtorch.js --defines)",
        "<!@(node scripts/find-libtorch.js --c10d-defines)",
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++1y", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["<!(node scripts/find-libtorch.js --cxx-flag)", "-fexceptions", "-frtti", "-O3", "-Wno-unused-parameter"],
      "libraries": [
        "-L<!(node scripts/find-libtorch.js --lib-dir)",
        "-Wl,--no-as-needed",
        "<!@(node scripts/find-libtorch.js --libraries)",
        "-ljpeg",
        "-lpng",
        "-lz",
        "-Wl,-rpath,<!(node scripts/find-libtorch.js --lib-dir)"
      ]
    }
  ]
}
