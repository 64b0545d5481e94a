{
  "targets": [
    {
      "target_name": "vsock",
      "sources": ["native/vsock.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
