{
  "targets": [
    {
      "target_name": "twinflow_linux",
      "sources": [
        "src/addon.c",
        "src/args.c",
        "src/errors.c",
        "src/registry.c",
        "src/netns.c",
        "src/iface.c",
        "src/packet.c",
        "src/ipv4.c",
        "src/tun.c",
        "src/listen.c",
        "src/burst.c",
        "src/watch.c"
      ],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources": [] }]
      ]
    }
  ]
}
