// Native helpers for what Node cannot do: AF_VSOCK sockets (listen, accept, connect; plain fds
// read and written through libuv's thread pool, FdDuplex in src/) for the guest agent and the
// host runtime, and pseudo-terminals (openpty, TIOCSWINSZ) for the agent's terminal processes.
// Errors carry the raw errno (`errno` property); src/errors.ts maps it to a VSOCK_* code. accept() and connect() block,
// so they run as async work off the JS thread. N-API only: ABI-stable across Node versions, so
// one build serves the host and the pinned Node in the guest.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <stdint.h>
#include <linux/vm_sockets.h>
#include <node_api.h>

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, #call " failed"); return NULL; } } while (0)

static napi_value errno_error(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error, num;
  napi_create_string_utf8(env, "VSOCK_SYSCALL", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  return error;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  napi_throw(env, errno_error(env, what, err));
  return NULL;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

// listen(cid, port) -> { fd, wake }: `wake` is an eventfd that cancel() signals to end a pending
// accept (shutdown() does not wake accept() on an AF_VSOCK listener).
static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t cid, port;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || get_u32(env, argv[0], &cid) || get_u32(env, argv[1], &port)) { napi_throw_type_error(env, NULL, "listen(cid, port)"); return NULL; }
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_VSOCK)", errno);
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cid;
  addr.svm_port = port;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { int e = errno; close(fd); return throw_errno(env, "bind(vsock)", e); }
  if (listen(fd, 16) < 0) { int e = errno; close(fd); return throw_errno(env, "listen(vsock)", e); }
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) { int e = errno; close(fd); return throw_errno(env, "eventfd", e); }
  napi_value result, vfd, vwake;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int32(env, fd, &vfd));
  CHECK(napi_create_int32(env, wake, &vwake));
  CHECK(napi_set_named_property(env, result, "fd", vfd));
  CHECK(napi_set_named_property(env, result, "wake", vwake));
  return result;
}

typedef struct {
  napi_async_work work;
  napi_ref callback;
  int mode;  // 0 accept, 1 connect
  int fd, wake;
  uint32_t cid, port;
  int result, err;
} Work;

static void execute(napi_env env, void *data) {
  (void)env;
  Work *w = data;
  if (w->mode == 0) {
    struct pollfd p[2] = { { w->fd, POLLIN, 0 }, { w->wake, POLLIN, 0 } };
    int n;
    do { n = poll(p, 2, -1); } while (n < 0 && errno == EINTR);
    if (n < 0) { w->result = -1; w->err = errno; return; }
    if (p[1].revents) { w->result = -1; w->err = ECANCELED; return; }
    int fd;
    do { fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC); } while (fd < 0 && errno == EINTR);
    w->result = fd;
    w->err = fd < 0 ? errno : 0;
  } else {
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { w->result = -1; w->err = errno; return; }
    struct sockaddr_vm addr;
    memset(&addr, 0, sizeof addr);
    addr.svm_family = AF_VSOCK;
    addr.svm_cid = w->cid;
    addr.svm_port = w->port;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { w->err = errno; close(fd); w->result = -1; return; }
    w->result = fd;
    w->err = 0;
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  (void)status;
  Work *w = data;
  napi_value cb, global, argv[2];
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &global);
  if (w->result < 0) {
    argv[0] = errno_error(env, w->mode == 0 ? "accept(vsock)" : "connect(vsock)", w->err);
    napi_create_int32(env, -1, &argv[1]);
  } else {
    napi_get_null(env, &argv[0]);
    napi_create_int32(env, w->result, &argv[1]);
  }
  napi_call_function(env, global, cb, 2, argv, NULL);
  napi_delete_reference(env, w->callback);
  napi_delete_async_work(env, w->work);
  free(w);
}

static napi_value queue(napi_env env, Work *w, napi_value cb, const char *name) {
  napi_value resource;
  CHECK(napi_create_reference(env, cb, 1, &w->callback));
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource));
  CHECK(napi_create_async_work(env, NULL, resource, execute, complete, w, &w->work));
  CHECK(napi_queue_async_work(env, w->work));
  return NULL;
}

// accept(fd, wake, cb(err, fd)): err.errno is ECANCELED after cancel(wake).
static napi_value Accept(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, wake;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &wake) != napi_ok) { napi_throw_type_error(env, NULL, "accept(fd, wake, cb)"); return NULL; }
  Work *w = calloc(1, sizeof *w);
  w->mode = 0;
  w->fd = fd;
  w->wake = wake;
  return queue(env, w, argv[2], "vsock.accept");
}

// cancel(wake): wakes the pending accept on that listener.
static napi_value Cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t wake;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &wake) == napi_ok && wake >= 0) {
    uint64_t one = 1;
    if (write(wake, &one, sizeof one) < 0) { /* already signalled (counter full) */ }
  }
  return NULL;
}

// connect(cid, port, cb(err, fd))
static napi_value Connect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  Work *w = calloc(1, sizeof *w);
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || get_u32(env, argv[0], &w->cid) || get_u32(env, argv[1], &w->port)) { free(w); napi_throw_type_error(env, NULL, "connect(cid, port, cb)"); return NULL; }
  w->mode = 1;
  return queue(env, w, argv[2], "vsock.connect");
}

// close(fd)
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) {
    shutdown(fd, SHUT_RDWR);
    close(fd);
  }
  return NULL;
}

// openpty() -> { master: fd, slave: "/dev/pts/N" }
static napi_value OpenPty(napi_env env, napi_callback_info info) {
  (void)info;
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return throw_errno(env, "posix_openpt", errno);
  char name[128];
  if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) { int e = errno; close(m); return throw_errno(env, "openpty", e); }
  napi_value result, master, slave;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int32(env, m, &master));
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &slave));
  CHECK(napi_set_named_property(env, result, "master", master));
  CHECK(napi_set_named_property(env, result, "slave", slave));
  return result;
}

// setWinsize(fd, rows, cols)
static napi_value SetWinsize(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  uint32_t rows, cols;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || get_u32(env, argv[1], &rows) || get_u32(env, argv[2], &cols)) { napi_throw_type_error(env, NULL, "setWinsize(fd, rows, cols)"); return NULL; }
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)rows;
  ws.ws_col = (unsigned short)cols;
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return throw_errno(env, "ioctl(TIOCSWINSZ)", errno);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "listen", NULL, Listen, NULL, NULL, NULL, napi_default, NULL },
    { "accept", NULL, Accept, NULL, NULL, NULL, napi_default, NULL },
    { "connect", NULL, Connect, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, Close, NULL, NULL, NULL, napi_default, NULL },
    { "cancel", NULL, Cancel, NULL, NULL, NULL, napi_default, NULL },
    { "openpty", NULL, OpenPty, NULL, NULL, NULL, napi_default, NULL },
    { "setWinsize", NULL, SetWinsize, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
