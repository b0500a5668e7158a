// fairseq-ts native kernels: single-precision GEMM through a system CBLAS (OpenBLAS), operating in
// place on JavaScript ArrayBuffers (e.g. the tfjs wasm heap), so no tensor data is copied.
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>

#ifdef FAIRSEQ_TS_OPENBLAS
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
#endif

#define CHECK(call)                                                         \
  do {                                                                      \
    if ((call) != napi_ok) {                                                \
      napi_throw_error(env, NULL, "fairseq-ts native kernels: N-API call failed: " #call); \
      return NULL;                                                          \
    }                                                                       \
  } while (0)

static int get_buffer(napi_env env, napi_value v, uint8_t** data, size_t* len) {
  bool is_ab = false, is_ta = false;
  napi_is_arraybuffer(env, v, &is_ab);
  if (is_ab) {
    void* p;
    if (napi_get_arraybuffer_info(env, v, &p, len) != napi_ok) return 0;
    *data = (uint8_t*)p;
    return 1;
  }
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) {
    napi_typedarray_type t;
    size_t n, off;
    void* p;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &t, &n, &p, &ab, &off) != napi_ok) return 0;
    if (t != napi_float32_array) return 0;
    *data = (uint8_t*)p;
    *len = n * 4;
    return 1;
  }
  return 0;
}

static int64_t get_i64(napi_env env, napi_value v) {
  int64_t x = 0;
  napi_get_value_int64(env, v, &x);
  return x;
}

// sgemmBatched(bufA, offA, strideA, bufB, offB, strideB, bufC, offC, batch, M, N, K, transA, transB)
// Byte offsets into the buffers; batch strides in elements (0 = broadcast). C = op(A) x op(B),
// A is [M,K] (or [K,M] when transA), B is [K,N] (or [N,K] when transB), row-major, C is [M,N].
static napi_value sgemm_batched(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value a[14];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 14) {
    napi_throw_type_error(env, NULL, "sgemmBatched expects 14 arguments");
    return NULL;
  }
  uint8_t *pa, *pb, *pc;
  size_t la, lb, lc;
  if (!get_buffer(env, a[0], &pa, &la) || !get_buffer(env, a[3], &pb, &lb) || !get_buffer(env, a[6], &pc, &lc)) {
    napi_throw_type_error(env, NULL, "sgemmBatched: buffers must be ArrayBuffers or Float32Arrays");
    return NULL;
  }
  int64_t offA = get_i64(env, a[1]), strideA = get_i64(env, a[2]);
  int64_t offB = get_i64(env, a[4]), strideB = get_i64(env, a[5]);
  int64_t offC = get_i64(env, a[7]);
  int64_t batch = get_i64(env, a[8]), M = get_i64(env, a[9]), N = get_i64(env, a[10]), K = get_i64(env, a[11]);
  bool ta = false, tb = false;
  napi_get_value_bool(env, a[12], &ta);
  napi_get_value_bool(env, a[13], &tb);
  if (batch < 0 || M < 0 || N < 0 || K < 0 || offA < 0 || offB < 0 || offC < 0 || strideA < 0 || strideB < 0 ||
      (offA | offB | offC) % 4 != 0) {
    napi_throw_range_error(env, NULL, "sgemmBatched: negative or misaligned argument");
    return NULL;
  }
  // Bounds: every matrix of every batch must lie inside its buffer.
  uint64_t sizeA = (uint64_t)M * K, sizeB = (uint64_t)K * N, sizeC = (uint64_t)M * N;
  uint64_t endA = offA + 4 * ((batch > 0 ? (uint64_t)(batch - 1) * strideA : 0) + sizeA);
  uint64_t endB = offB + 4 * ((batch > 0 ? (uint64_t)(batch - 1) * strideB : 0) + sizeB);
  uint64_t endC = offC + 4 * ((uint64_t)batch * sizeC);
  if (endA > la || endB > lb || endC > lc) {
    napi_throw_range_error(env, NULL, "sgemmBatched: matrix outside its buffer");
    return NULL;
  }
  float* A = (float*)(pa + offA);
  float* B = (float*)(pb + offB);
  float* C = (float*)(pc + offC);
  int lda = ta ? (int)M : (int)K;
  int ldb = tb ? (int)K : (int)N;
  for (int64_t i = 0; i < batch; i++) {
    if (K == 0) {
      memset(C + i * sizeC, 0, sizeC * 4);
      continue;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                A + i * strideA, lda, B + i * strideB, ldb, 0.0f, C + i * sizeC, (int)N);
  }
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
#ifdef FAIRSEQ_TS_OPENBLAS
  int32_t n = 1;
  napi_get_value_int32(env, a[0], &n);
  if (n > 0) openblas_set_num_threads(n);
#endif
  return NULL;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  napi_value out;
  int n = 1;
#ifdef FAIRSEQ_TS_OPENBLAS
  n = openblas_get_num_threads();
#endif
  CHECK(napi_create_int32(env, n, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemmBatched", NULL, sgemm_batched, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 3, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
