// The TEE guest-device ioctls Node cannot issue, and nothing else: SEV-SNP SNP_GET_REPORT and
// SNP_GET_EXT_REPORT on /dev/sev-guest, IBM Secure Execution UVIO_IOCTL_ATT on /dev/uv. The C
// only opens the device, puts user-space addresses into the kernel's structs (which TypeScript
// cannot do) and issues the ioctl on libuv's thread pool; requests are built and responses
// parsed in TypeScript (@kata-cc/attester). Kernel errors are returned, not thrown: the promise
// resolves { stage, errno, ... } so the caller maps them to stable codes.
//
// Struct layouts follow include/uapi/linux/sev-guest.h and arch/s390/include/uapi/asm/uvdevice.h.
// They are declared here rather than included because the installed uapi headers vary (before
// Linux 6.4 exitinfo2 was a plain fw_err; asm/uvdevice.h exists only on s390x); the asserts below
// pin every offset, and compare with the installed sev-guest.h where there is one.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <node_api.h>

struct kcc_snp_guest_request_ioctl {
  uint8_t msg_version;  // must be non-zero; 1 is the only version of these messages
  uint64_t req_data;
  uint64_t resp_data;
  uint64_t exitinfo2;   // bits 31:0 firmware error, 63:32 VMM error (little-endian x86)
};
struct kcc_snp_ext_report_req {
  uint8_t data[96];     // struct snp_report_req {user_data[64], vmpl, rsvd[28]}, built in TS
  uint64_t certs_address;
  uint32_t certs_len;
};
#define KCC_SNP_GET_REPORT _IOWR('S', 0x0, struct kcc_snp_guest_request_ioctl)
#define KCC_SNP_GET_EXT_REPORT _IOWR('S', 0x2, struct kcc_snp_guest_request_ioctl)
_Static_assert(sizeof(struct kcc_snp_guest_request_ioctl) == 32, "snp_guest_request_ioctl");
_Static_assert(offsetof(struct kcc_snp_guest_request_ioctl, exitinfo2) == 24, "exitinfo2");
_Static_assert(offsetof(struct kcc_snp_ext_report_req, certs_address) == 96, "certs_address");
_Static_assert(offsetof(struct kcc_snp_ext_report_req, certs_len) == 104, "certs_len");
#if defined(__has_include)
#if __has_include(<linux/sev-guest.h>)
#include <linux/sev-guest.h>
_Static_assert(KCC_SNP_GET_REPORT == SNP_GET_REPORT, "SNP_GET_REPORT");
_Static_assert(KCC_SNP_GET_EXT_REPORT == SNP_GET_EXT_REPORT, "SNP_GET_EXT_REPORT");
_Static_assert(sizeof(struct kcc_snp_ext_report_req) == sizeof(struct snp_ext_report_req), "snp_ext_report_req");
_Static_assert(sizeof(struct snp_report_req) == 96 && sizeof(struct snp_report_resp) == 4000, "snp_report_req/resp");
#endif
#endif

struct kcc_uvio_ioctl_cb {
  uint32_t flags;
  uint16_t uv_rc;       // 0x0001 = executed
  uint16_t uv_rrc;
  uint64_t argument_addr;
  uint32_t argument_len;
  uint8_t reserved14[0x40 - 0x14];
};
struct kcc_uvio_attest {
  uint64_t arcb_addr;
  uint64_t meas_addr;
  uint64_t add_data_addr;
  uint8_t user_data[0x100];
  uint8_t config_uid[0x10];
  uint32_t arcb_len;
  uint32_t meas_len;
  uint32_t add_data_len;
  uint16_t user_data_len;
  uint16_t reserved136;
};
#define KCC_UVIO_IOCTL_ATT _IOWR('u', 1, struct kcc_uvio_ioctl_cb)
_Static_assert(sizeof(struct kcc_uvio_ioctl_cb) == 0x40 && offsetof(struct kcc_uvio_ioctl_cb, argument_len) == 0x10, "uvio_ioctl_cb");
_Static_assert(offsetof(struct kcc_uvio_attest, config_uid) == 0x118 && offsetof(struct kcc_uvio_attest, arcb_len) == 0x128, "uvio_attest");
_Static_assert(offsetof(struct kcc_uvio_attest, user_data_len) == 0x134 && sizeof(struct kcc_uvio_attest) == 0x138, "uvio_attest size");

enum op { OP_REPORT, OP_EXT_REPORT, OP_UV_ATTEST };
#define MAX_BUFS 5

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  enum op op;
  char path[256];
  napi_ref refs[MAX_BUFS];   // keep the caller's buffers alive while the ioctl runs
  uint8_t *buf[MAX_BUFS];
  size_t len[MAX_BUFS];
  int stage;                 // 0: open failed, 1: ioctl
  int err;
  uint64_t exitinfo2;
  uint32_t certs_len;
  uint16_t uv_rc, uv_rrc;
  uint32_t add_data_len;
} job_t;

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  int fd = open(j->path, O_RDWR | O_CLOEXEC);
  if (fd < 0) { j->stage = 0; j->err = errno; return; }
  j->stage = 1;
  int rc = -1;
  if (j->op == OP_REPORT || j->op == OP_EXT_REPORT) {
    struct kcc_snp_guest_request_ioctl io;
    struct kcc_snp_ext_report_req ext;
    memset(&io, 0, sizeof io);
    io.msg_version = 1;
    io.resp_data = (uint64_t)(uintptr_t)j->buf[1];
    if (j->op == OP_REPORT) {
      io.req_data = (uint64_t)(uintptr_t)j->buf[0];
      rc = ioctl(fd, KCC_SNP_GET_REPORT, &io);
    } else {
      memset(&ext, 0, sizeof ext);
      memcpy(ext.data, j->buf[0], sizeof ext.data);
      ext.certs_address = j->len[2] ? (uint64_t)(uintptr_t)j->buf[2] : 0;
      ext.certs_len = (uint32_t)j->len[2];
      io.req_data = (uint64_t)(uintptr_t)&ext;
      rc = ioctl(fd, KCC_SNP_GET_EXT_REPORT, &io);
      j->certs_len = ext.certs_len;  // the kernel writes the needed length back on INVALID_LEN
    }
    j->exitinfo2 = io.exitinfo2;
  } else {
#if defined(__s390x__)
    struct kcc_uvio_attest att;
    struct kcc_uvio_ioctl_cb cb;
    memset(&att, 0, sizeof att);
    memset(&cb, 0, sizeof cb);
    att.arcb_addr = (uint64_t)(uintptr_t)j->buf[0];
    att.arcb_len = (uint32_t)j->len[0];
    att.meas_addr = (uint64_t)(uintptr_t)j->buf[1];
    att.meas_len = (uint32_t)j->len[1];
    att.add_data_addr = j->len[2] ? (uint64_t)(uintptr_t)j->buf[2] : 0;
    att.add_data_len = (uint32_t)j->len[2];
    if (j->len[3]) memcpy(att.user_data, j->buf[3], j->len[3]);
    att.user_data_len = (uint16_t)j->len[3];
    cb.argument_addr = (uint64_t)(uintptr_t)&att;
    cb.argument_len = sizeof att;
    rc = ioctl(fd, KCC_UVIO_IOCTL_ATT, &cb);
    j->uv_rc = cb.uv_rc;
    j->uv_rrc = cb.uv_rrc;
    j->add_data_len = att.add_data_len;
    memcpy(j->buf[4], att.config_uid, sizeof att.config_uid);
#else
    errno = ENOTTY;  // unreachable: UvAttest refuses before queueing on other architectures
#endif
  }
  j->err = rc < 0 ? errno : 0;
  close(fd);
}

static void set_u32(napi_env env, napi_value obj, const char *name, uint32_t v) {
  napi_value n;
  napi_create_uint32(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  napi_value result, stage;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, j->stage == 0 ? "open" : "ioctl", NAPI_AUTO_LENGTH, &stage);
  napi_set_named_property(env, result, "stage", stage);
  set_u32(env, result, "errno", (uint32_t)j->err);
  if (j->op == OP_UV_ATTEST) {
    set_u32(env, result, "uvRc", j->uv_rc);
    set_u32(env, result, "uvRrc", j->uv_rrc);
    set_u32(env, result, "addDataLen", j->add_data_len);
  } else {
    set_u32(env, result, "fwError", (uint32_t)(j->exitinfo2 & 0xffffffffu));
    set_u32(env, result, "vmmError", (uint32_t)(j->exitinfo2 >> 32));
    if (j->op == OP_EXT_REPORT) set_u32(env, result, "certsLen", j->certs_len);
  }
  if (status == napi_ok) napi_resolve_deferred(env, j->deferred, result);
  else {
    napi_value msg, err;
    napi_create_string_utf8(env, "tee-devices: async work failed", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  for (int i = 0; i < MAX_BUFS; i++) if (j->refs[i]) napi_delete_reference(env, j->refs[i]);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value fail(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

// Reads argv[i] as a Uint8Array (or null when allowed) into j->buf/len[slot].
static int take_bytes(napi_env env, job_t *j, napi_value v, int slot, int nullable) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (nullable && (t == napi_null || t == napi_undefined)) return 0;
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta) return -1;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) return -1;
  if (napi_create_reference(env, v, 1, &j->refs[slot]) != napi_ok) return -1;
  j->buf[slot] = data;
  j->len[slot] = length;
  return 0;
}

static napi_value queue(napi_env env, napi_callback_info info, enum op op, size_t nargs) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < nargs) return fail(env, "TEEDEV_BAD_ARGUMENT", "tee-devices: missing arguments");
  job_t *j = calloc(1, sizeof *j);
  if (!j) return fail(env, "TEEDEV_BAD_ARGUMENT", "tee-devices: out of memory");
  size_t plen = 0;
  int bad = napi_get_value_string_utf8(env, argv[0], j->path, sizeof j->path, &plen) != napi_ok || plen == 0 || plen >= sizeof j->path - 1;
  for (size_t i = 1; !bad && i < nargs; i++) bad = take_bytes(env, j, argv[i], (int)i - 1, op == OP_EXT_REPORT && i == 3) != 0;
  if (!bad && op != OP_UV_ATTEST) bad = j->len[0] != 96 || j->len[1] < 4000 || (op == OP_EXT_REPORT && j->len[2] > UINT32_MAX);
  if (!bad && op == OP_UV_ATTEST) bad = j->len[0] > UINT32_MAX || j->len[1] > UINT32_MAX || j->len[2] > UINT32_MAX || j->len[3] > 0x100 || j->len[4] != 0x10;
  if (bad) {
    for (int i = 0; i < MAX_BUFS; i++) if (j->refs[i]) napi_delete_reference(env, j->refs[i]);
    free(j);
    return fail(env, "TEEDEV_BAD_ARGUMENT", "tee-devices: bad argument (path string, Uint8Array buffers of the documented sizes)");
  }
  j->op = op;
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "kcc-tee-device-ioctl", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

// snpGetReport(path, req96, resp4000)
static napi_value SnpGetReport(napi_env env, napi_callback_info info) { return queue(env, info, OP_REPORT, 3); }
// snpGetExtReport(path, req96, resp4000, certs | null)
static napi_value SnpGetExtReport(napi_env env, napi_callback_info info) { return queue(env, info, OP_EXT_REPORT, 4); }
// uvAttest(path, arcb, measurement, additionalData, userData <= 256, configUid16)
static napi_value UvAttest(napi_env env, napi_callback_info info) {
#if defined(__s390x__)
  return queue(env, info, OP_UV_ATTEST, 6);
#else
  (void)info;
  return fail(env, "TEEDEV_UNSUPPORTED_ARCH", "tee-devices: the /dev/uv attestation ioctl exists only on s390x");
#endif
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "snpGetReport", NULL, SnpGetReport, NULL, NULL, NULL, napi_default, NULL },
    { "snpGetExtReport", NULL, SnpGetExtReport, NULL, NULL, NULL, napi_default, NULL },
    { "uvAttest", NULL, UvAttest, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
