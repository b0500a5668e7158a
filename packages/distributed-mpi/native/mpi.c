// A thin N-API binding of the MPI point-to-point calls @fairseq-ts/distributed-mpi needs: non-blocking
// sends and receives of typed-array bytes, and a wait with a deadline that runs off the JavaScript thread
// (a blocking MPI call can never time out, so a hung rank could not be named). Everything else (the
// order of the float sums, which rank is missing) is decided in TypeScript.
#define NAPI_VERSION 8
#include <node_api.h>
#include <mpi.h>
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REQUESTS 65536

static MPI_Request requests[MAX_REQUESTS];
static unsigned char in_use[MAX_REQUESTS];
static int next_free = 0;
static int initialized = 0;
static int finalized = 0;
// MPI is initialised MPI_THREAD_SERIALIZED: while a wait polls on a libuv thread the JS thread may not call MPI.
static int waiting = 0;

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value throw_mpi(napi_env env, const char *what, int code) {
  char text[MPI_MAX_ERROR_STRING + 128];
  char err[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, err, &len);
  snprintf(text, sizeof text, "%s: %s", what, err);
  return throw_error(env, text);
}

static int set_int(napi_env env, napi_value obj, const char *key, int v) {
  napi_value x;
  if (napi_create_int32(env, v, &x) != napi_ok) return 0;
  return napi_set_named_property(env, obj, key, x) == napi_ok;
}

static int set_str(napi_env env, napi_value obj, const char *key, const char *s) {
  napi_value x;
  if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &x) != napi_ok) return 0;
  return napi_set_named_property(env, obj, key, x) == napi_ok;
}

static int ready(napi_env env) {
  if (!initialized || finalized) {
    throw_error(env, finalized ? "MPI was finalized" : "MPI is not initialised (call init first)");
    return 0;
  }
  if (waiting) {
    throw_error(env, "an MPI wait is in progress (collectives must not overlap)");
    return 0;
  }
  return 1;
}

// init() -> { rank, size, tagUb, threadLevel, library, host }
static napi_value Init(napi_env env, napi_callback_info info) {
  (void)info;
  if (!initialized) {
    // Open MPI's plugins resolve libmpi's symbols globally; Node loads addons RTLD_LOCAL (mpi4py does the same).
    const char *libs[] = {"libmpi.so.40", "libmpi.so.12", "libmpi.so"};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
      if (dlopen(libs[i], RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) break;
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) return throw_mpi(env, "MPI_Init_thread", rc);
    if (provided < MPI_THREAD_SERIALIZED) {
      return throw_error(env, "this MPI library does not support MPI_THREAD_SERIALIZED (needed to wait off the JavaScript thread)");
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    initialized = 1;
  }
  int rank = 0, size = 0, flag = 0, *tag_ub = NULL, provided = 0, len = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &tag_ub, &flag);
  MPI_Query_thread(&provided);
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  MPI_Get_library_version(lib, &len);
  char *nl = strchr(lib, '\n');
  if (nl) *nl = 0;
  char host[MPI_MAX_PROCESSOR_NAME];
  MPI_Get_processor_name(host, &len);
  napi_value out;
  napi_create_object(env, &out);
  set_int(env, out, "rank", rank);
  set_int(env, out, "size", size);
  set_int(env, out, "tagUb", flag && tag_ub ? *tag_ub : 32767);
  set_int(env, out, "threadLevel", provided);
  set_str(env, out, "library", lib);
  set_str(env, out, "host", host);
  return out;
}

static int alloc_request(void) {
  for (int n = 0; n < MAX_REQUESTS; n++) {
    int id = (next_free + n) % MAX_REQUESTS;
    if (!in_use[id]) {
      in_use[id] = 1;
      next_free = (id + 1) % MAX_REQUESTS;
      return id;
    }
  }
  return -1;
}

// isend(view, peer, tag) / irecv(view, peer, tag) -> request id. The view's memory must stay referenced until
// the request completes (the caller keeps it).
static napi_value post(napi_env env, napi_callback_info info, int is_send) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return throw_error(env, "expected (view, peer, tag)");
  if (!ready(env)) return NULL;
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void *data = NULL;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset) != napi_ok) return throw_error(env, "expected a typed array");
  size_t bytes = length;
  if (type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array) bytes *= 4;
  else if (type == napi_float64_array) bytes *= 8;
  else if (type != napi_uint8_array && type != napi_int8_array) return throw_error(env, "expected a Float32Array, Float64Array, Int32Array, Uint32Array or Uint8Array");
  if (bytes > 0x7fffffff) return throw_error(env, "message larger than 2^31-1 bytes (split it)");
  int peer = 0, tag = 0;
  napi_get_value_int32(env, argv[1], &peer);
  napi_get_value_int32(env, argv[2], &tag);
  int id = alloc_request();
  if (id < 0) return throw_error(env, "too many outstanding MPI requests");
  int rc = is_send ? MPI_Isend(data, (int)bytes, MPI_BYTE, peer, tag, MPI_COMM_WORLD, &requests[id])
                   : MPI_Irecv(data, (int)bytes, MPI_BYTE, peer, tag, MPI_COMM_WORLD, &requests[id]);
  if (rc != MPI_SUCCESS) {
    in_use[id] = 0;
    return throw_mpi(env, is_send ? "MPI_Isend" : "MPI_Irecv", rc);
  }
  napi_value out;
  napi_create_int32(env, id, &out);
  return out;
}

static napi_value Isend(napi_env env, napi_callback_info info) { return post(env, info, 1); }
static napi_value Irecv(napi_env env, napi_callback_info info) { return post(env, info, 0); }

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int count;
  int *ids;
  MPI_Request *live;
  int *pending_ids;
  int pending;
  double timeout_s;
  int error_code;
  char error_where[32];
} Wait;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Polls MPI_Testsome until every request completed or the deadline passed. It spins briefly (a message is
// often already there), then yields, then sleeps 50 µs between polls so an oversubscribed core goes to a
// rank that computes.
static void wait_execute(napi_env env, void *p) {
  (void)env;
  Wait *w = (Wait *)p;
  int n = w->count;
  int *index = malloc(sizeof(int) * (n > 0 ? n : 1));
  double deadline = now_s() + w->timeout_s;
  long idle = 0;
  int left = n;
  for (int i = 0; i < n; i++) w->live[i] = requests[w->ids[i]];
  while (left > 0) {
    int outcount = 0;
    int rc = MPI_Testsome(n, w->live, &outcount, index, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) {
      w->error_code = rc;
      strcpy(w->error_where, "MPI_Testsome");
      break;
    }
    if (outcount == MPI_UNDEFINED) break;
    if (outcount > 0) {
      left -= outcount;
      idle = 0;
      continue;
    }
    if ((++idle & 63) == 0 && now_s() > deadline) break;
    if (idle > 2000) {
      struct timespec ts = {0, 50000};
      nanosleep(&ts, NULL);
    } else if (idle > 200) {
      sched_yield();
    }
  }
  free(index);
  w->pending = 0;
  for (int i = 0; i < n; i++) {
    if (w->live[i] == MPI_REQUEST_NULL) in_use[w->ids[i]] = 0;
    else {
      requests[w->ids[i]] = w->live[i];
      w->pending_ids[w->pending++] = w->ids[i];
    }
  }
}

static void wait_complete(napi_env env, napi_status status, void *p) {
  Wait *w = (Wait *)p;
  waiting = 0;
  if (status != napi_ok || w->error_code != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING + 64];
    char err[MPI_MAX_ERROR_STRING] = "cancelled";
    int len = 0;
    if (w->error_code != MPI_SUCCESS) MPI_Error_string(w->error_code, err, &len);
    snprintf(text, sizeof text, "%s: %s", w->error_where[0] ? w->error_where : "wait", err);
    napi_value msg, error;
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, w->deferred, error);
  } else {
    napi_value arr;
    napi_create_array_with_length(env, (size_t)w->pending, &arr);
    for (int i = 0; i < w->pending; i++) {
      napi_value x;
      napi_create_int32(env, w->pending_ids[i], &x);
      napi_set_element(env, arr, (uint32_t)i, x);
    }
    napi_resolve_deferred(env, w->deferred, arr);
  }
  napi_delete_async_work(env, w->work);
  free(w->ids);
  free(w->live);
  free(w->pending_ids);
  free(w);
}

// waitAll(ids: number[], timeoutMs) -> Promise<number[]>: the ids still incomplete at the deadline ([] = all done).
static napi_value WaitAll(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return throw_error(env, "expected (ids, timeoutMs)");
  if (!ready(env)) return NULL;
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok) return throw_error(env, "ids must be an array");
  double timeout_ms = 0;
  napi_get_value_double(env, argv[1], &timeout_ms);
  Wait *w = calloc(1, sizeof(Wait));
  w->count = (int)n;
  w->ids = malloc(sizeof(int) * (n ? n : 1));
  w->live = malloc(sizeof(MPI_Request) * (n ? n : 1));
  w->pending_ids = malloc(sizeof(int) * (n ? n : 1));
  w->timeout_s = timeout_ms / 1000.0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value x;
    int id = -1;
    napi_get_element(env, argv[0], i, &x);
    napi_get_value_int32(env, x, &id);
    if (id < 0 || id >= MAX_REQUESTS || !in_use[id]) {
      free(w->ids);
      free(w->live);
      free(w->pending_ids);
      free(w);
      return throw_error(env, "waitAll: unknown request id");
    }
    w->ids[i] = id;
  }
  napi_value promise, name;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "fairseq_ts_mpi_wait", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, wait_execute, wait_complete, w, &w->work);
  waiting = 1;
  napi_queue_async_work(env, w->work);
  return promise;
}

// abort(message, code): prints the message and ends every rank of the job (MPI_Abort never returns).
static napi_value Abort(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char msg[4096] = "";
  size_t len = 0;
  int code = 1;
  if (argc > 0) napi_get_value_string_utf8(env, argv[0], msg, sizeof msg, &len);
  if (argc > 1) napi_get_value_int32(env, argv[1], &code);
  if (len) fprintf(stderr, "%s\n", msg);
  fflush(stderr);
  fflush(stdout);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  exit(code);
  return NULL;
}

static napi_value Finalize(napi_env env, napi_callback_info info) {
  (void)info;
  if (waiting) return throw_error(env, "an MPI wait is in progress");
  if (initialized && !finalized) {
    finalized = 1;
    int rc = MPI_Finalize();
    if (rc != MPI_SUCCESS) return throw_mpi(env, "MPI_Finalize", rc);
  }
  return NULL;
}

static napi_value Register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", NULL, Init, NULL, NULL, NULL, napi_default, NULL},
      {"isend", NULL, Isend, NULL, NULL, NULL, napi_default, NULL},
      {"irecv", NULL, Irecv, NULL, NULL, NULL, napi_default, NULL},
      {"waitAll", NULL, WaitAll, NULL, NULL, NULL, napi_default, NULL},
      {"abort", NULL, Abort, NULL, NULL, NULL, napi_default, NULL},
      {"finalize", NULL, Finalize, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Register)
