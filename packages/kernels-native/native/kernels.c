// fairseq-ts native kernels: single-precision GEMM through a system CBLAS (OpenBLAS), operating in
// place on JavaScript ArrayBuffers (e.g. the tfjs wasm heap), so no tensor data is copied.
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
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

#define SMALL_GEMM_FLOPS 8192
#define ONE_THREAD_FLOPS 16e6

// The BLAS threads asked for (setThreads), restored after single-threaded small products.
static int blas_threads = 1;

// C[M,N] = op(A) x op(B) for tiny sizes; the inner loops run over contiguous memory where the layout
// allows (an axpy over C's row, or a dot product of two rows).
static void small_gemm(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
  for (int64_t m = 0; m < M; m++) {
    float* c = C + m * N;
    if (!tb) {
      for (int64_t n = 0; n < N; n++) c[n] = 0.0f;
      for (int64_t k = 0; k < K; k++) {
        const float a = ta ? A[k * M + m] : A[m * K + k];
        const float* b = B + k * N;
        for (int64_t n = 0; n < N; n++) c[n] += a * b[n];
      }
    } else {
      for (int64_t n = 0; n < N; n++) {
        const float* b = B + n * K;
        float acc = 0.0f;
        if (!ta) {
          const float* a = A + m * K;
          for (int64_t k = 0; k < K; k++) acc += a[k] * b[k];
        } else {
          for (int64_t k = 0; k < K; k++) acc += A[k * M + m] * b[k];
        }
        c[n] = acc;
      }
    }
  }
}

// expf without branches, so the compiler vectorizes the loop (wasm's Exp calls a scalar exp, ~5 ns
// per element; log-softmax over the vocabulary at every beam-search step is mostly that).
// Cephes' expf: n = round(x / ln 2) by the 1.5·2^23 trick, r = x - n·ln 2 in two parts, a degree-6
// polynomial, then 2^n applied as two factors so results down to the denormals stay exact to ~1 ulp.
static inline float exp1(float x) {
  const float hi = 88.72283935546875f, lo = -103.97207641601562f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  const float magic = 12582912.0f;
  float t = xc * 1.44269504088896341f + magic;
  int32_t ti;
  memcpy(&ti, &t, 4);
  int32_t n = ti - 0x4B400000;
  float fn = t - magic;
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t n1 = n >> 1, n2 = n - n1;
  int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  float s1, s2;
  memcpy(&s1, &b1, 4);
  memcpy(&s2, &b2, 4);
  float y = p * s1 * s2;
  y = x > hi ? __builtin_inff() : y;
  y = x < lo ? 0.0f : y;
  return x != x ? x : y;
}

// AVX2 (8 lanes) where the CPU has it, SSE2 otherwise; chosen once at load time (an ifunc).
__attribute__((target_clones("avx2", "default"))) static void exp_loop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = exp1(x[i]);
}

// vexp(bufX, offX, bufY, offY, n): y[i] = exp(x[i]) (byte offsets, may alias).
static napi_value vexp(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 5) {
    napi_throw_type_error(env, NULL, "vexp expects 5 arguments");
    return NULL;
  }
  uint8_t *px, *py;
  size_t lx, ly;
  if (!get_buffer(env, a[0], &px, &lx) || !get_buffer(env, a[2], &py, &ly)) {
    napi_throw_type_error(env, NULL, "vexp: buffers must be ArrayBuffers or Float32Arrays");
    return NULL;
  }
  int64_t offX = get_i64(env, a[1]), offY = get_i64(env, a[3]), n = get_i64(env, a[4]);
  if (offX < 0 || offY < 0 || n < 0 || (offX | offY) % 4 != 0 || (uint64_t)offX + 4 * (uint64_t)n > lx || (uint64_t)offY + 4 * (uint64_t)n > ly) {
    napi_throw_range_error(env, NULL, "vexp: range outside its buffer or misaligned");
    return NULL;
  }
  const float* x = (const float*)(px + offX);
  float* y = (float*)(py + offY);
  exp_loop(x, y, n);
  return NULL;
}

// log-softmax of each row: (x - max) - log(sum(exp(x - max))), as tfjs composes it, in one kernel
// (tfjs runs Max, Sub, Cast, Exp, Sum, Log, Sub: seven passes over [rows, V] and six tensors).
// A row holding NaN, +inf, or only -inf comes out all NaN, like the composite (the NaN reaches the sum
// through exp, which passes NaN through; max skips NaN as wasm's Max does).
__attribute__((target_clones("avx2", "default"))) static void log_softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = -__builtin_inff();
    for (int64_t j = 0; j < cols; j++) m = xr[j] > m ? xr[j] : m;
    for (int64_t j = 0; j < cols; j++) yr[j] = exp1(xr[j] - m);
    float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8)
      for (int q = 0; q < 8; q++) part[q] += yr[j + q];
    float sum = 0.0f;
    for (int q = 0; q < 8; q++) sum += part[q];
    for (; j < cols; j++) sum += yr[j];
    const float ls = logf(sum);
    for (int64_t jj = 0; jj < cols; jj++) yr[jj] = (xr[jj] - m) - ls;
  }
}

// logSoftmax(bufX, offX, bufY, offY, rows, cols): byte offsets.
static napi_value log_softmax(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 6) {
    napi_throw_type_error(env, NULL, "logSoftmax expects 6 arguments");
    return NULL;
  }
  uint8_t *px, *py;
  size_t lx, ly;
  if (!get_buffer(env, a[0], &px, &lx) || !get_buffer(env, a[2], &py, &ly)) {
    napi_throw_type_error(env, NULL, "logSoftmax: buffers must be ArrayBuffers or Float32Arrays");
    return NULL;
  }
  int64_t offX = get_i64(env, a[1]), offY = get_i64(env, a[3]), rows = get_i64(env, a[4]), cols = get_i64(env, a[5]);
  uint64_t bytes = 4 * (uint64_t)rows * (uint64_t)cols;
  if (offX < 0 || offY < 0 || rows < 0 || cols < 0 || (offX | offY) % 4 != 0 || (uint64_t)offX + bytes > lx || (uint64_t)offY + bytes > ly) {
    napi_throw_range_error(env, NULL, "logSoftmax: range outside its buffer or misaligned");
    return NULL;
  }
  log_softmax_rows((const float*)(px + offX), (float*)(py + offY), rows, cols);
  return NULL;
}

// Layer normalisation of each row: (x - mean) / sqrt(var + eps) * gamma + beta, with the biased
// variance, as tf.moments and fairseq's LayerNorm (one kernel instead of tfjs's ten).
static void layer_norm_rows(const float* x, const float* g, const float* b, float* y, int64_t rows, int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float sum = 0.0f;
    for (int64_t j = 0; j < cols; j++) sum += xr[j];
    const float mean = sum / (float)cols;
    float ss = 0.0f;
    for (int64_t j = 0; j < cols; j++) ss += (xr[j] - mean) * (xr[j] - mean);
    const float rstd = 1.0f / sqrtf(ss / (float)cols + eps);
    for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - mean) * rstd * g[j] + b[j];
  }
}

// layerNorm(bufX, offX, bufG, offG, bufB, offB, bufY, offY, rows, cols, eps): byte offsets.
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value a[11];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 11) {
    napi_throw_type_error(env, NULL, "layerNorm expects 11 arguments");
    return NULL;
  }
  uint8_t *px, *pg, *pb, *py;
  size_t lx, lg, lb, ly;
  if (!get_buffer(env, a[0], &px, &lx) || !get_buffer(env, a[2], &pg, &lg) || !get_buffer(env, a[4], &pb, &lb) || !get_buffer(env, a[6], &py, &ly)) {
    napi_throw_type_error(env, NULL, "layerNorm: buffers must be ArrayBuffers or Float32Arrays");
    return NULL;
  }
  int64_t offX = get_i64(env, a[1]), offG = get_i64(env, a[3]), offB = get_i64(env, a[5]), offY = get_i64(env, a[7]);
  int64_t rows = get_i64(env, a[8]), cols = get_i64(env, a[9]);
  double eps = 0;
  napi_get_value_double(env, a[10], &eps);
  uint64_t bytes = 4 * (uint64_t)rows * (uint64_t)cols;
  if (offX < 0 || offG < 0 || offB < 0 || offY < 0 || rows < 0 || cols < 0 || (offX | offG | offB | offY) % 4 != 0 ||
      (uint64_t)offX + bytes > lx || (uint64_t)offY + bytes > ly || (uint64_t)offG + 4 * (uint64_t)cols > lg || (uint64_t)offB + 4 * (uint64_t)cols > lb) {
    napi_throw_range_error(env, NULL, "layerNorm: range outside its buffer or misaligned");
    return NULL;
  }
  if (cols > 0) layer_norm_rows((const float*)(px + offX), (const float*)(pg + offG), (const float*)(pb + offB), (float*)(py + offY), rows, cols, (float)eps);
  return NULL;
}

// a ranks before b: larger first, NaN largest (as torch.topk); equal values keep index order.
static inline int ranks_before(float a, float b) { return a > b || (a != a && b == b); }

// The k largest of each row, sorted, lower index first among equals (tf.topk's order). One pass per
// row over a small sorted buffer: most elements fail the comparison with the current k-th.
static void topk_rows(const float* x, int64_t rows, int64_t cols, int64_t k, float* vals, int32_t* idx) {
  for (int64_t r = 0; r < rows; r++) {
    const float* row = x + r * cols;
    float* v = vals + r * k;
    int32_t* ix = idx + r * k;
    int64_t filled = 0;
    for (int64_t j = 0; j < cols; j++) {
      const float xj = row[j];
      if (filled == k && !ranks_before(xj, v[k - 1])) continue;
      int64_t p = filled < k ? filled++ : k - 1;
      while (p > 0 && ranks_before(xj, v[p - 1])) {
        v[p] = v[p - 1];
        ix[p] = ix[p - 1];
        p--;
      }
      v[p] = xj;
      ix[p] = (int32_t)j;
    }
  }
}

// topk(bufX, offX, rows, cols, k, bufVals, offVals, bufIdx, offIdx): byte offsets; k <= cols.
static napi_value topk(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value a[9];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 9) {
    napi_throw_type_error(env, NULL, "topk expects 9 arguments");
    return NULL;
  }
  uint8_t *px, *pv, *pi;
  size_t lx, lv, li;
  if (!get_buffer(env, a[0], &px, &lx) || !get_buffer(env, a[5], &pv, &lv) || !get_buffer(env, a[7], &pi, &li)) {
    napi_throw_type_error(env, NULL, "topk: buffers must be ArrayBuffers or Float32Arrays");
    return NULL;
  }
  int64_t offX = get_i64(env, a[1]), rows = get_i64(env, a[2]), cols = get_i64(env, a[3]), k = get_i64(env, a[4]);
  int64_t offV = get_i64(env, a[6]), offI = get_i64(env, a[8]);
  if (offX < 0 || offV < 0 || offI < 0 || rows < 0 || cols < 0 || k < 0 || k > cols || (offX | offV | offI) % 4 != 0 ||
      (uint64_t)offX + 4 * (uint64_t)rows * cols > lx || (uint64_t)offV + 4 * (uint64_t)rows * k > lv ||
      (uint64_t)offI + 4 * (uint64_t)rows * k > li) {
    napi_throw_range_error(env, NULL, "topk: range outside its buffer, misaligned, or k > cols");
    return NULL;
  }
  if (k > 0) topk_rows((const float*)(px + offX), rows, cols, k, (float*)(pv + offV), (int32_t*)(pi + offI));
  return NULL;
}

// C[i] = op(A[i]) x op(B[i]) for i < batch (strides in elements; 0 broadcasts), row-major.
static void gemm_batched(const float* A, int64_t strideA, const float* B, int64_t strideB, float* C, int64_t batch,
                         int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
  const uint64_t sizeC = (uint64_t)M * N;
  int lda = ta ? (int)M : (int)K;
  int ldb = tb ? (int)K : (int)N;
  // Tiny matrices (attention of one decoding step: M = 1, K = head dim, many batches): a BLAS call
  // costs more than the arithmetic, so loop in plain C.
  if ((uint64_t)M * N * K <= SMALL_GEMM_FLOPS) {
    for (int64_t i = 0; i < batch; i++) small_gemm(A + i * strideA, B + i * strideB, C + i * sizeC, M, N, K, ta, tb);
    return;
  }
#ifdef FAIRSEQ_TS_OPENBLAS
  // Each GEMM below ONE_THREAD_FLOPS runs on one thread: splitting a few-MFLOP product costs more in
  // thread hand-offs than it saves, and when the other core is busy (another worker, another
  // process) a waiting OpenBLAS thread stalls the whole call. Decoding steps are all such products.
  const int one_thread = 2.0 * (double)M * N * K < ONE_THREAD_FLOPS && blas_threads > 1;
  if (one_thread) openblas_set_num_threads(1);
#endif
  for (int64_t i = 0; i < batch; i++) {
    if (K == 0) {
      memset(C + i * sizeC, 0, sizeC * 4);
      continue;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                A + i * strideA, lda, B + i * strideB, ldb, 0.0f, C + i * sizeC, (int)N);
  }
#ifdef FAIRSEQ_TS_OPENBLAS
  if (one_thread) openblas_set_num_threads(blas_threads);
#endif
}

// linear(bufX, offX, bufW, offW, bufB, offB, bufY, offY, M, N, K): Y[M,N] = X[M,K] x W[N,K]^T + b[N]
// (fairseq's Linear in one kernel; offB < 0: no bias). Byte offsets.
static napi_value linear_fwd(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value a[11];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 11) {
    napi_throw_type_error(env, NULL, "linear expects 11 arguments");
    return NULL;
  }
  uint8_t *px, *pw, *pb = NULL, *py;
  size_t lx, lw, lb = 0, ly;
  int64_t offB = get_i64(env, a[5]);
  if (!get_buffer(env, a[0], &px, &lx) || !get_buffer(env, a[2], &pw, &lw) || !get_buffer(env, a[6], &py, &ly) ||
      (offB >= 0 && !get_buffer(env, a[4], &pb, &lb))) {
    napi_throw_type_error(env, NULL, "linear: buffers must be ArrayBuffers or Float32Arrays");
    return NULL;
  }
  int64_t offX = get_i64(env, a[1]), offW = get_i64(env, a[3]), offY = get_i64(env, a[7]);
  int64_t M = get_i64(env, a[8]), N = get_i64(env, a[9]), K = get_i64(env, a[10]);
  if (offX < 0 || offW < 0 || offY < 0 || M < 0 || N < 0 || K < 0 || (offX | offW | offY | (offB < 0 ? 0 : offB)) % 4 != 0 ||
      (uint64_t)offX + 4 * (uint64_t)M * K > lx || (uint64_t)offW + 4 * (uint64_t)N * K > lw ||
      (uint64_t)offY + 4 * (uint64_t)M * N > ly || (offB >= 0 && (uint64_t)offB + 4 * (uint64_t)N > lb)) {
    napi_throw_range_error(env, NULL, "linear: range outside its buffer or misaligned");
    return NULL;
  }
  float* Y = (float*)(py + offY);
  gemm_batched((const float*)(px + offX), 0, (const float*)(pw + offW), 0, Y, 1, M, N, K, false, true);
  if (offB >= 0) {
    const float* bias = (const float*)(pb + offB);
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) Y[m * N + n] += bias[n];
  }
  return NULL;
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
  gemm_batched(A, strideA, B, strideB, C, batch, M, N, K, ta, tb);
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
#ifdef FAIRSEQ_TS_OPENBLAS
  int32_t n = 1;
  napi_get_value_int32(env, a[0], &n);
  if (n > 0) {
    openblas_set_num_threads(n);
    blas_threads = n;
  }
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
#ifdef FAIRSEQ_TS_OPENBLAS
  blas_threads = openblas_get_num_threads();
#endif
  napi_property_descriptor props[] = {
      {"sgemmBatched", NULL, sgemm_batched, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_default, NULL},
      {"vexp", NULL, vexp, NULL, NULL, NULL, napi_default, NULL},
      {"topk", NULL, topk, NULL, NULL, NULL, napi_default, NULL},
      {"logSoftmax", NULL, log_softmax, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_default, NULL},
      {"linear", NULL, linear_fwd, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 8, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
