{
  "targets": [
    {
      "target_name": "tee_devices",
      "sources": ["native/tee-devices.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
