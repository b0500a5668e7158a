// fairseq-ts native kernels: single-precision GEMM through a system CBLAS (OpenBLAS), operating in
// place on JavaScript ArrayBuffers (e.g. the tfjs wasm heap), so no tensor data is copied.
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <stdio.h>
#include <cblas.h>
#include <stdlib.h>
#include <stdarg.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

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
    if (t != napi_float32_array && t != napi_int32_array) return 0;
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

// ---- Argument checking, one way for every exported function: get_args takes exactly n arguments and
// reads the sizes among them (none negative); span resolves a (buffer, byte offset) pair to a pointer
// after checking that `bytes` bytes from it lie inside the buffer. On bad input each throws a JavaScript
// error worded by the function's arg_errors and returns 0; the function then returns at once.
typedef struct {
  const char* fn;         // the function's JavaScript name, which starts each message
  const char* bad_buffer; // "<fn>: <bad_buffer>" when an argument is not a buffer (TypeError)
  const char* negative;   // ... for a negative size (RangeError)
  const char* misplaced;  // ... for a negative or misaligned byte offset (RangeError)
  const char* outside;    // ... for bytes past the end of their buffer (RangeError)
} arg_errors;

#define RANGE_ERROR "range outside its buffer or misaligned"
#define ARG_ERRORS(fn) {fn, "buffers must be ArrayBuffers, Float32Arrays or Int32Arrays", "negative size", RANGE_ERROR, RANGE_ERROR}
// The first kernels' wording (vexp .. sgemmBatched), kept: Float32Arrays named alone, and one range error
// for negative sizes, bad offsets and overruns (sgemmBatched: one for the first two, one for overruns).
#define ARG_ERRORS_V1(fn, bad_size_or_offset, overrun) \
  {fn, "buffers must be ArrayBuffers or Float32Arrays", bad_size_or_offset, bad_size_or_offset, overrun}

static void throw_arg_error(napi_env env, const arg_errors* e, const char* what, bool type_error) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s: %s", e->fn, what);
  if (type_error) napi_throw_type_error(env, NULL, msg);
  else napi_throw_range_error(env, NULL, msg);
}

// Exactly n arguments into a[]; then the sizes at the nd argument positions that follow into d[], none
// negative (as integers; a non-number reads as 0).
static int get_args(napi_env env, napi_callback_info info, napi_value* a, size_t n, const arg_errors* e, int64_t* d, int nd, ...) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc != n) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s expects %zu arguments", e->fn, n);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  va_list at;
  va_start(at, nd);
  for (int i = 0; i < nd; i++) d[i] = get_i64(env, a[va_arg(at, int)]);
  va_end(at);
  for (int i = 0; i < nd; i++)
    if (d[i] < 0) {
      throw_arg_error(env, e, e->negative, false);
      return 0;
    }
  return 1;
}

// Stores the buffer's data + offset in the pointer variable at `out` (any pointer type). That pointer
// may be NULL (an empty ArrayBuffer, bytes = 0), so success is the return value, not the pointer.
static int span(napi_env env, napi_value buf, napi_value off, uint64_t bytes, uint64_t align, const arg_errors* e, void* out) {
  uint8_t* p;
  size_t len;
  if (!get_buffer(env, buf, &p, &len)) {
    throw_arg_error(env, e, e->bad_buffer, true);
    return 0;
  }
  int64_t o = get_i64(env, off);
  if (o < 0 || (uint64_t)o % align != 0) {
    throw_arg_error(env, e, e->misplaced, false);
    return 0;
  }
  if ((uint64_t)o + bytes > len) {
    throw_arg_error(env, e, e->outside, false);
    return 0;
  }
  uint8_t* at = p + o;
  memcpy(out, &at, sizeof at);
  return 1;
}

// AVX2 (8 lanes) where the CPU has it, SSE2 otherwise; chosen once at load time (an ifunc).
#define TC __attribute__((target_clones("avx2", "default")))

#define SMALL_GEMM_FLOPS 8192
#define ONE_THREAD_FLOPS 16e6

// The threads asked for (setThreads; default: OpenBLAS's default, the cores): OpenBLAS's threads in
// big products and this addon's own pool in everything else. Restored after single-threaded small products.
static int blas_threads = 1;

// ---- A small persistent thread pool for the kernels OpenBLAS does not thread (row-wise kernels,
// batches of small products, element-wise loops). `parallel_for(n, grain, fn, ctx)` cuts [0, n) into
// chunks of at least `grain` items and every participant (the calling thread and blas_threads − 1
// workers) claims chunks one at a time from a shared counter: a worker the scheduler keeps off the
// CPU (a loaded machine) costs nothing, the caller does its chunks. Results never depend on the
// thread count or on who ran a chunk: every kernel below writes each output element from one chunk
// only, with the same operations in the same order as the single-threaded loop (no reduction across
// chunks; where a kernel sums over rows, the rows' terms are kept per row and added in row order by
// the caller, or the sum is split by columns).
typedef void (*range_fn)(void* ctx, int64_t begin, int64_t end);

#define POOL_MAX_WORKERS 63
#define POOL_MAX_CHUNKS 4096
// ticket = generation (24 bits) | number of chunks (20) | next chunk to claim (20): one atomic word, so a
// claim succeeds only for the job it was read from (a worker waking late cannot take a chunk of the next job).
static _Atomic uint64_t pool_ticket = 0;
static _Atomic int64_t pool_done = 0;
static range_fn pool_fn;
static void* pool_ctx;
static int64_t pool_n, pool_chunk;
static int pool_workers = 0;    // started
static int pool_sleepers = 0;   // waiting on pool_wake (under pool_mu)
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_finished = PTHREAD_COND_INITIALIZER; // the caller waits here for chunks others hold
static int pool_waiting = 0;                                    // the caller is waiting (under pool_mu)
// One job at a time: a second JavaScript thread (worker_threads) calling in meanwhile runs its loop alone.
static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Claim and run chunks of the job `ticket` was read from until none is left; returns the chunks run.
static int64_t pool_drain(uint64_t t) {
  int64_t ran = 0;
  for (;;) {
    const uint64_t gen = t >> 40, nch = (t >> 20) & 0xFFFFF, next = t & 0xFFFFF;
    if (next >= nch) return ran;
    if (!atomic_compare_exchange_weak_explicit(&pool_ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) {
      if ((t >> 40) != gen) return ran;
      continue;
    }
    const int64_t b = (int64_t)next * pool_chunk, e = b + pool_chunk < pool_n ? b + pool_chunk : pool_n;
    pool_fn(pool_ctx, b, e);
    if (atomic_fetch_add_explicit(&pool_done, 1, memory_order_acq_rel) + 1 == (int64_t)nch) {
      pthread_mutex_lock(&pool_mu);
      if (pool_waiting) pthread_cond_signal(&pool_finished);
      pthread_mutex_unlock(&pool_mu);
    }
    ran++;
    t = atomic_load_explicit(&pool_ticket, memory_order_acquire);
  }
}

static void* pool_worker(void* arg) {
  (void)arg;
  uint64_t seen = atomic_load_explicit(&pool_ticket, memory_order_acquire) >> 40;
  for (;;) {
    uint64_t t = atomic_load_explicit(&pool_ticket, memory_order_acquire);
    // spin a little (the next kernel call usually follows within microseconds), then sleep
    for (int i = 0; i < 4000 && (t >> 40) == seen; i++) {
      cpu_relax();
      t = atomic_load_explicit(&pool_ticket, memory_order_acquire);
    }
    if ((t >> 40) == seen) {
      pthread_mutex_lock(&pool_mu);
      pool_sleepers++;
      while (((t = atomic_load_explicit(&pool_ticket, memory_order_acquire)) >> 40) == seen) pthread_cond_wait(&pool_wake, &pool_mu);
      pool_sleepers--;
      pthread_mutex_unlock(&pool_mu);
    }
    seen = t >> 40;
    pool_drain(t);
  }
  return NULL;
}

// Run fn over [0, n) in chunks of at least `grain` items on up to blas_threads threads.
static void parallel_for(int64_t n, int64_t grain, range_fn fn, void* ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int threads = blas_threads;
  if (threads > POOL_MAX_WORKERS + 1) threads = POOL_MAX_WORKERS + 1;
  // about four chunks per thread, so that a late or slow thread is made up for by the others
  int64_t chunk = (n + 4 * (int64_t)threads - 1) / (4 * (int64_t)threads);
  if (chunk < grain) chunk = grain;
  if ((n + chunk - 1) / chunk > POOL_MAX_CHUNKS) chunk = (n + POOL_MAX_CHUNKS - 1) / POOL_MAX_CHUNKS;
  const int64_t nch = (n + chunk - 1) / chunk;
  if (threads <= 1 || nch <= 1 || pthread_mutex_trylock(&pool_busy) != 0) {
    fn(ctx, 0, n);
    return;
  }
  while (pool_workers < threads - 1) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const int ok = pthread_create(&th, &attr, pool_worker, NULL) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) break;
    pool_workers++;
  }
  pool_fn = fn;
  pool_ctx = ctx;
  pool_n = n;
  pool_chunk = chunk;
  atomic_store_explicit(&pool_done, 0, memory_order_relaxed);
  const uint64_t gen = ((atomic_load_explicit(&pool_ticket, memory_order_relaxed) >> 40) + 1) & 0xFFFFFF;
  const uint64_t t = (gen << 40) | ((uint64_t)nch << 20);
  atomic_store_explicit(&pool_ticket, t, memory_order_release);
  pthread_mutex_lock(&pool_mu);
  if (pool_sleepers > 0) pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_mu);
  pool_drain(t);
  // wait for the chunks other threads claimed: a short spin, then asleep (on a loaded machine the thread
  // holding the last chunk may be off the CPU for a while; spinning would only take CPU from it)
  for (int spins = 0; spins < 2000 && atomic_load_explicit(&pool_done, memory_order_acquire) < nch; spins++) cpu_relax();
  if (atomic_load_explicit(&pool_done, memory_order_acquire) < nch) {
    pthread_mutex_lock(&pool_mu);
    pool_waiting = 1;
    while (atomic_load_explicit(&pool_done, memory_order_acquire) < nch) pthread_cond_wait(&pool_finished, &pool_mu);
    pool_waiting = 0;
    pthread_mutex_unlock(&pool_mu);
  }
  pthread_mutex_unlock(&pool_busy);
}

// C[M,N] = op(A) x op(B) for tiny sizes (M·N·K ≤ SMALL_GEMM_FLOPS). Every c[m,n] is the sequence
// (0 + a₀b₀) + a₁b₁ + … in k order, whichever loop computes it, so the paths agree bit for bit (no
// FMA: the avx2 clone does not contract a·b + c).
//
// Training attention (M, N ≈ target length ≤ 32, K = head dim; thousands of products per call) takes
// the packed path: B is copied once per product into [K, NP] rows zero-padded to NP = N rounded up
// to 8 (its cost is 1/M of the product's), and each row of C is accumulated in NP/8 vector
// registers (GCC vector extensions: AVX in the avx2 clone, SSE pairs otherwise). Accumulating in C's
// own row instead (the axpy loop below) spent most of its time storing and reloading that row once
// per k.
typedef float v8f __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) void small_gemm_packed(const float* A, const float* bt, float* C, int64_t M, int64_t N, int64_t K, bool ta, const int NV) {
  for (int64_t m = 0; m < M; m++) {
    v8f acc[4];
    for (int v = 0; v < NV; v++) acc[v] = (v8f){0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t k = 0; k < K; k++) {
      const float a = ta ? A[k * M + m] : A[m * K + k];
      const float* b = bt + k * NV * 8;
      for (int v = 0; v < NV; v++) {
        v8f bv;
        memcpy(&bv, b + 8 * v, sizeof bv);
        acc[v] += a * bv;
      }
    }
    float row[32];
    memcpy(row, acc, sizeof(v8f) * NV);
    memcpy(C + m * N, row, 4 * (size_t)N);
  }
}

TC static void small_gemm(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
  const int64_t NP = (N + 7) & ~(int64_t)7;
  if (M >= 4 && NP <= 32 && K * NP <= SMALL_GEMM_FLOPS) {
    float bt[SMALL_GEMM_FLOPS];
    for (int64_t k = 0; k < K; k++) {
      float* row = bt + k * NP;
      for (int64_t n = 0; n < N; n++) row[n] = tb ? B[n * K + k] : B[k * N + n];
      for (int64_t n = N; n < NP; n++) row[n] = 0.0f;
    }
    switch (NP) {
      case 8: small_gemm_packed(A, bt, C, M, N, K, ta, 1); return;
      case 16: small_gemm_packed(A, bt, C, M, N, K, ta, 2); return;
      case 24: small_gemm_packed(A, bt, C, M, N, K, ta, 3); return;
      default: small_gemm_packed(A, bt, C, M, N, K, ta, 4); return;
    }
  }
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

// Sum of n floats in eight interleaved partial sums (vectorizes; a little more accurate than one
// running sum). Inlined into each target clone of its callers.
static inline float sum8(const float* x, int64_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int q = 0; q < 8; q++) part[q] += x[j + q];
  float s = 0.0f;
  for (int q = 0; q < 8; q++) s += part[q];
  for (; j < n; j++) s += x[j];
  return s;
}

// AVX2 (8 lanes) where the CPU has it, SSE2 otherwise; chosen once at load time (an ifunc).
__attribute__((target_clones("avx2", "default"))) static void exp_loop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = exp1(x[i]);
}

typedef struct {
  const float* x;
  float* y;
} exp_ctx;
static void exp_range(void* c, int64_t b, int64_t e) {
  const exp_ctx* k = c;
  exp_loop(k->x + b, k->y + b, e - b);
}
static void exp_par(const float* x, float* y, int64_t n) {
  exp_ctx c = {x, y};
  parallel_for(n, 16384, exp_range, &c);
}

// vexp(bufX, offX, bufY, offY, n): y[i] = exp(x[i]) (byte offsets, may alias).
static napi_value vexp(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS_V1("vexp", RANGE_ERROR, RANGE_ERROR);
  napi_value a[5];
  int64_t n;
  if (!get_args(env, info, a, 5, &errs, &n, 1, 4)) return NULL;
  const float* x;
  float* y;
  if (!span(env, a[0], a[1], 4 * (uint64_t)n, 4, &errs, &x) || !span(env, a[2], a[3], 4 * (uint64_t)n, 4, &errs, &y)) return NULL;
  exp_par(x, y, n);
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
    const float ls = logf(sum8(yr, cols));
    for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - m) - ls;
  }
}

// Row-wise kernels over [rows, cols] run as chunks of rows (each row's output written by one chunk).
enum { ROWS_LOG_SOFTMAX, ROWS_LAYER_NORM, ROWS_LOG_SOFTMAX_GRAD };
static void layer_norm_rows(const float* x, const float* g, const float* b, float* y, int64_t rows, int64_t cols, float eps);
static void log_softmax_grad_rows(const float* dy, const float* y, float* dx, int64_t rows, int64_t cols);
typedef struct {
  int kind;
  const float *x, *g, *b;
  float* y;
  int64_t cols;
  float eps;
} rows_ctx;
static void rows_range(void* c, int64_t b, int64_t e) {
  const rows_ctx* k = c;
  const int64_t o = b * k->cols;
  switch (k->kind) {
    case ROWS_LOG_SOFTMAX: log_softmax_rows(k->x + o, k->y + o, e - b, k->cols); break;
    case ROWS_LAYER_NORM: layer_norm_rows(k->x + o, k->g, k->b, k->y + o, e - b, k->cols, k->eps); break;
    default: log_softmax_grad_rows(k->x + o, k->g + o, k->y + o, e - b, k->cols); break; // x = dy, g = y
  }
}
static void rows_par(int kind, const float* x, const float* g, const float* b, float* y, int64_t rows, int64_t cols, float eps) {
  rows_ctx c = {kind, x, g, b, y, cols, eps};
  parallel_for(rows, 1 + 16384 / (cols > 0 ? cols : 1), rows_range, &c);
}

// logSoftmax(bufX, offX, bufY, offY, rows, cols): byte offsets.
static napi_value log_softmax(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS_V1("logSoftmax", RANGE_ERROR, RANGE_ERROR);
  napi_value a[6];
  int64_t d[2];
  if (!get_args(env, info, a, 6, &errs, d, 2, 4, 5)) return NULL;
  const uint64_t bytes = 4 * (uint64_t)d[0] * (uint64_t)d[1];
  const float* x;
  float* y;
  if (!span(env, a[0], a[1], bytes, 4, &errs, &x) || !span(env, a[2], a[3], bytes, 4, &errs, &y)) return NULL;
  rows_par(ROWS_LOG_SOFTMAX, x, NULL, NULL, y, d[0], d[1], 0);
  return NULL;
}

// Layer normalisation of each row: (x - mean) / sqrt(var + eps) * gamma + beta, with the biased
// variance, as tf.moments and fairseq's LayerNorm (one kernel instead of tfjs's ten).
// A row's mean and 1/sqrt(biased variance + eps), two-pass. The backward calls this too, so it
// normalises with exactly the forward's statistics.
static inline float row_rstd(const float* xr, int64_t cols, float eps, float* mean_out) {
  float sum = 0.0f;
  for (int64_t j = 0; j < cols; j++) sum += xr[j];
  const float mean = sum / (float)cols;
  float ss = 0.0f;
  for (int64_t j = 0; j < cols; j++) ss += (xr[j] - mean) * (xr[j] - mean);
  *mean_out = mean;
  return 1.0f / sqrtf(ss / (float)cols + eps);
}

static void layer_norm_rows(const float* x, const float* g, const float* b, float* y, int64_t rows, int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mean;
    const float rstd = row_rstd(xr, cols, eps, &mean);
    for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - mean) * rstd * g[j] + b[j];
  }
}

// layerNorm(bufX, offX, bufG, offG, bufB, offB, bufY, offY, rows, cols, eps): byte offsets.
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS_V1("layerNorm", RANGE_ERROR, RANGE_ERROR);
  napi_value a[11];
  int64_t d[2];
  if (!get_args(env, info, a, 11, &errs, d, 2, 8, 9)) return NULL;
  const int64_t rows = d[0], cols = d[1];
  double eps = 0;
  napi_get_value_double(env, a[10], &eps);
  const uint64_t bytes = 4 * (uint64_t)rows * (uint64_t)cols, row = 4 * (uint64_t)cols;
  const float *x, *g, *b;
  float* y;
  if (!span(env, a[0], a[1], bytes, 4, &errs, &x) || !span(env, a[2], a[3], row, 4, &errs, &g) ||
      !span(env, a[4], a[5], row, 4, &errs, &b) || !span(env, a[6], a[7], bytes, 4, &errs, &y))
    return NULL;
  if (cols > 0) rows_par(ROWS_LAYER_NORM, x, g, b, y, rows, cols, (float)eps);
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

typedef struct {
  const float* x;
  int64_t cols, k;
  float* vals;
  int32_t* idx;
} topk_ctx;
static void topk_range(void* c, int64_t b, int64_t e) {
  const topk_ctx* t = c;
  topk_rows(t->x + b * t->cols, e - b, t->cols, t->k, t->vals + b * t->k, t->idx + b * t->k);
}
static void topk_par(const float* x, int64_t rows, int64_t cols, int64_t k, float* vals, int32_t* idx) {
  topk_ctx c = {x, cols, k, vals, idx};
  parallel_for(rows, 1 + 16384 / (cols > 0 ? cols : 1), topk_range, &c);
}

// topk(bufX, offX, rows, cols, k, bufVals, offVals, bufIdx, offIdx): byte offsets; k <= cols.
static napi_value topk(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS_V1("topk", "range outside its buffer, misaligned, or k > cols", "range outside its buffer, misaligned, or k > cols");
  napi_value a[9];
  int64_t d[3];
  if (!get_args(env, info, a, 9, &errs, d, 3, 2, 3, 4)) return NULL;
  const int64_t rows = d[0], cols = d[1], k = d[2];
  if (k > cols) {
    throw_arg_error(env, &errs, errs.outside, false);
    return NULL;
  }
  const float* x;
  float* vals;
  int32_t* idx;
  if (!span(env, a[0], a[1], 4 * (uint64_t)rows * cols, 4, &errs, &x) || !span(env, a[5], a[6], 4 * (uint64_t)rows * k, 4, &errs, &vals) ||
      !span(env, a[7], a[8], 4 * (uint64_t)rows * k, 4, &errs, &idx))
    return NULL;
  if (k > 0) topk_par(x, rows, cols, k, vals, idx);
  return NULL;
}

typedef struct {
  const float* A;
  int64_t strideA;
  const float* B;
  int64_t strideB;
  float* C;
  int64_t M, N, K;
  bool ta, tb;
} gemm_ctx;
static void small_gemm_range(void* c, int64_t b, int64_t e) {
  const gemm_ctx* g = c;
  const int64_t sizeC = g->M * g->N;
  for (int64_t i = b; i < e; i++) small_gemm(g->A + i * g->strideA, g->B + i * g->strideB, g->C + i * sizeC, g->M, g->N, g->K, g->ta, g->tb);
}
static void blas_gemm_range(void* c, int64_t b, int64_t e) {
  const gemm_ctx* g = c;
  const int64_t sizeC = g->M * g->N;
  const int lda = g->ta ? (int)g->M : (int)g->K, ldb = g->tb ? (int)g->K : (int)g->N;
  for (int64_t i = b; i < e; i++) {
    if (g->K == 0) {
      memset(g->C + i * sizeC, 0, (size_t)sizeC * 4);
      continue;
    }
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (int)g->M, (int)g->N, (int)g->K, 1.0f,
                g->A + i * g->strideA, lda, g->B + i * g->strideB, ldb, 0.0f, g->C + i * sizeC, (int)g->N);
  }
}

// C[i] = op(A[i]) x op(B[i]) for i < batch (strides in elements; 0 broadcasts), row-major.
static void gemm_batched(const float* A, int64_t strideA, const float* B, int64_t strideB, float* C, int64_t batch,
                         int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
  // Tiny matrices (attention of one decoding step: M = 1, K = head dim, many batches): a BLAS call
  // costs more than the arithmetic, so loop in plain C.
  gemm_ctx ctx = {A, strideA, B, strideB, C, M, N, K, ta, tb};
  // chunks of products worth at least ~0.25 MFLOP each (a pool hand-off costs a few microseconds)
  const int64_t grain = 1 + (int64_t)(262144 / (2.0 * (double)M * N * (K > 0 ? K : 1)));
  if ((uint64_t)M * N * K <= SMALL_GEMM_FLOPS) {
    parallel_for(batch, grain, small_gemm_range, &ctx);
    return;
  }
#ifdef FAIRSEQ_TS_OPENBLAS
  // Each GEMM below ONE_THREAD_FLOPS runs on one thread: splitting a few-MFLOP product costs more in
  // thread hand-offs than it saves, and when the other core is busy (another worker, another
  // process) a waiting OpenBLAS thread stalls the whole call. Decoding steps are all such products.
  const int one_thread = 2.0 * (double)M * N * K < ONE_THREAD_FLOPS && blas_threads > 1;
  if (one_thread) openblas_set_num_threads(1);
  // products too small for OpenBLAS's threads (attention): one thread each, several at once in the pool
  if (one_thread) parallel_for(batch, grain, blas_gemm_range, &ctx);
  else
#endif
    blas_gemm_range(&ctx, 0, batch);
#ifdef FAIRSEQ_TS_OPENBLAS
  if (one_thread) openblas_set_num_threads(blas_threads);
#endif
}

typedef struct {
  float* Y;
  const float* bias;
  int64_t N;
} bias_ctx;
static void bias_range(void* c, int64_t b, int64_t e) {
  const bias_ctx* k = c;
  for (int64_t m = b; m < e; m++)
    for (int64_t n = 0; n < k->N; n++) k->Y[m * k->N + n] += k->bias[n];
}

// linear(bufX, offX, bufW, offW, bufB, offB, bufY, offY, M, N, K): Y[M,N] = X[M,K] x W[N,K]^T + b[N]
// (fairseq's Linear in one kernel; offB < 0: no bias). Byte offsets.
static napi_value linear_fwd(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS_V1("linear", RANGE_ERROR, RANGE_ERROR);
  napi_value a[11];
  int64_t d[3];
  if (!get_args(env, info, a, 11, &errs, d, 3, 8, 9, 10)) return NULL;
  const int64_t M = d[0], N = d[1], K = d[2];
  const bool has_bias = get_i64(env, a[5]) >= 0;
  const float *X, *W, *bias = NULL;
  float* Y;
  if (!span(env, a[0], a[1], 4 * (uint64_t)M * K, 4, &errs, &X) || !span(env, a[2], a[3], 4 * (uint64_t)N * K, 4, &errs, &W) ||
      (has_bias && !span(env, a[4], a[5], 4 * (uint64_t)N, 4, &errs, &bias)) || !span(env, a[6], a[7], 4 * (uint64_t)M * N, 4, &errs, &Y))
    return NULL;
  gemm_batched(X, 0, W, 0, Y, 1, M, N, K, false, true);
  if (has_bias) {
    bias_ctx c = {Y, bias, N};
    parallel_for(M, 1 + 16384 / (N > 0 ? N : 1), bias_range, &c);
  }
  return NULL;
}

// sgemmBatched(bufA, offA, strideA, bufB, offB, strideB, bufC, offC, batch, M, N, K, transA, transB)
// Byte offsets into the buffers; batch strides in elements (0 = broadcast). C = op(A) x op(B),
// A is [M,K] (or [K,M] when transA), B is [K,N] (or [N,K] when transB), row-major, C is [M,N].
static napi_value sgemm_batched(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS_V1("sgemmBatched", "negative or misaligned argument", "matrix outside its buffer");
  napi_value a[14];
  int64_t d[6];
  if (!get_args(env, info, a, 14, &errs, d, 6, 8, 9, 10, 11, 2, 5)) return NULL;
  const int64_t batch = d[0], M = d[1], N = d[2], K = d[3], strideA = d[4], strideB = d[5];
  bool ta = false, tb = false;
  napi_get_value_bool(env, a[12], &ta);
  napi_get_value_bool(env, a[13], &tb);
  // Bounds: every matrix of every batch must lie inside its buffer.
  uint64_t sizeA = (uint64_t)M * K, sizeB = (uint64_t)K * N, sizeC = (uint64_t)M * N;
  uint64_t bytesA = 4 * ((batch > 0 ? (uint64_t)(batch - 1) * strideA : 0) + sizeA);
  uint64_t bytesB = 4 * ((batch > 0 ? (uint64_t)(batch - 1) * strideB : 0) + sizeB);
  uint64_t bytesC = 4 * ((uint64_t)batch * sizeC);
  const float *A, *B;
  float* C;
  if (!span(env, a[0], a[1], bytesA, 4, &errs, &A) || !span(env, a[3], a[4], bytesB, 4, &errs, &B) || !span(env, a[6], a[7], bytesC, 4, &errs, &C)) return NULL;
  gemm_batched(A, strideA, B, strideB, C, batch, M, N, K, ta, tb);
  return NULL;
}

// y[o, i] = sum over m of x[o, m, i]: tfjs's Sum over a run of adjacent axes. The wasm backend
// transposes the reduced axes to the end first (bias and layer-norm gradients sum [rows, C] over
// rows: a full transpose per call); here rows are added into the output row in place.
TC static void sum_axis(const float* x, float* y, int64_t outer, int64_t mid, int64_t inner) {
  for (int64_t o = 0; o < outer; o++) {
    const float* xo = x + o * mid * inner;
    float* yo = y + o * inner;
    if (inner == 1) {
      yo[0] = sum8(xo, mid);
      continue;
    }
    for (int64_t i = 0; i < inner; i++) yo[i] = 0.0f;
    for (int64_t m = 0; m < mid; m++) {
      const float* xr = xo + m * inner;
      for (int64_t i = 0; i < inner; i++) yo[i] += xr[i];
    }
  }
}

// In chunks: of outer indices when inner is 1, else of columns (each output written by one chunk, its
// rows added in the same order).
typedef struct {
  const float* x;
  float* y;
  int64_t outer, mid, inner;
} sum_ctx;
static void sum_outer_range(void* c, int64_t b, int64_t e) {
  const sum_ctx* k = c;
  sum_axis(k->x + b * k->mid, k->y + b, e - b, k->mid, 1);
}
TC static void sum_cols_range(void* c, int64_t b, int64_t e) {
  const sum_ctx* k = c;
  for (int64_t o = 0; o < k->outer; o++) {
    const float* xo = k->x + o * k->mid * k->inner;
    float* yo = k->y + o * k->inner;
    for (int64_t i = b; i < e; i++) yo[i] = 0.0f;
    for (int64_t m = 0; m < k->mid; m++) {
      const float* xr = xo + m * k->inner;
      for (int64_t i = b; i < e; i++) yo[i] += xr[i];
    }
  }
}
static void sum_axis_par(const float* x, float* y, int64_t outer, int64_t mid, int64_t inner) {
  sum_ctx c = {x, y, outer, mid, inner};
  if (inner == 1) parallel_for(outer, 1 + 16384 / (mid > 0 ? mid : 1), sum_outer_range, &c);
  else if (inner >= 64 && outer * mid * inner >= 65536) parallel_for(inner, 32, sum_cols_range, &c);
  else sum_axis(x, y, outer, mid, inner);
}

// sumAxis(bufX, offX, bufY, offY, outer, mid, inner): float32, byte offsets.
static napi_value sum_axis_fn(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS("sumAxis");
  napi_value a[7];
  int64_t d[3];
  if (!get_args(env, info, a, 7, &errs, d, 3, 4, 5, 6)) return NULL;
  const float* x;
  float* y;
  if (!span(env, a[0], a[1], 4 * (uint64_t)d[0] * d[1] * d[2], 4, &errs, &x) ||
      !span(env, a[2], a[3], 4 * (uint64_t)d[0] * d[2], 4, &errs, &y))
    return NULL;
  sum_axis_par(x, y, d[0], d[1], d[2]);
  return NULL;
}

typedef struct {
  const uint8_t* src;
  uint8_t* dst;
  int64_t srcStride, dstStride, block;
} copy_ctx;
static void copy_range(void* c, int64_t b, int64_t e) {
  const copy_ctx* k = c;
  for (int64_t i = b; i < e; i++) memcpy(k->dst + i * k->dstStride, k->src + i * k->srcStride, k->block);
}

// copyBlocks(bufSrc, offSrc, srcStride, bufDst, offDst, dstStride, blockBytes, count): count blocks of
// blockBytes, the i-th from offSrc + i·srcStride to offDst + i·dstStride (all in bytes): one piece of
// a split or a concat along any axis (tfjs's wasm SplitV and Concat copy row by row from JavaScript).
static napi_value copy_blocks(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS("copyBlocks");
  napi_value a[8];
  int64_t d[4];
  if (!get_args(env, info, a, 8, &errs, d, 4, 2, 5, 6, 7)) return NULL;
  const int64_t srcStride = d[0], dstStride = d[1], block = d[2], count = d[3];
  if (count == 0 || block == 0) return NULL;
  const uint8_t* src;
  uint8_t* dst;
  if (!span(env, a[0], a[1], (uint64_t)(count - 1) * srcStride + block, 1, &errs, &src) ||
      !span(env, a[3], a[4], (uint64_t)(count - 1) * dstStride + block, 1, &errs, &dst))
    return NULL;
  copy_ctx c = {src, dst, srcStride, dstStride, block};
  // at least 64 KB per chunk: a copy is cheap, a hand-off is not
  parallel_for(count, 1 + 65536 / block, copy_range, &c);
  return NULL;
}

// The gradient of layer_norm_rows for each row, with mean and rstd recomputed as the forward does:
// xhat = (x - mean)·rstd, dxhat = dy·gamma,
// dx = rstd·(dxhat - mean(dxhat) - xhat·mean(dxhat·xhat)); dgamma = Σrows dy·xhat; dbeta = Σrows dy.
// (tfjs composes it from about twenty kernels, each a pass over [rows, C].)
// Two parallel passes: dx by chunks of rows (each row's mean and rstd kept), then dgamma and dbeta by
// chunks of columns, each column summed over the rows in row order (the sums of the one-pass loop
// `for r: for j: dg[j] += dy·xhat`, bit for bit, whatever the thread count).
typedef struct {
  const float *x, *g, *dy;
  float *dx, *dg, *db, *stats;
  int64_t rows, cols;
  float eps;
} lng_ctx;
TC static void lng_rows_range(void* c, int64_t b, int64_t e) {
  const lng_ctx* k = c;
  const int64_t cols = k->cols;
  for (int64_t r = b; r < e; r++) {
    const float* xr = k->x + r * cols;
    const float* dyr = k->dy + r * cols;
    float* dxr = k->dx + r * cols;
    float mean;
    const float rstd = row_rstd(xr, cols, k->eps, &mean);
    k->stats[2 * r] = mean;
    k->stats[2 * r + 1] = rstd;
    float s1 = 0.0f, s2 = 0.0f;
    for (int64_t j = 0; j < cols; j++) {
      const float xhat = (xr[j] - mean) * rstd, dxhat = dyr[j] * k->g[j];
      s1 += dxhat;
      s2 += dxhat * xhat;
    }
    const float m1 = s1 / (float)cols, m2 = s2 / (float)cols;
    for (int64_t j = 0; j < cols; j++) dxr[j] = rstd * (dyr[j] * k->g[j] - m1 - (xr[j] - mean) * rstd * m2);
  }
}
TC static void lng_cols_range(void* c, int64_t b, int64_t e) {
  const lng_ctx* k = c;
  const int64_t cols = k->cols;
  for (int64_t r = 0; r < k->rows; r++) {
    const float* xr = k->x + r * cols;
    const float* dyr = k->dy + r * cols;
    const float mean = k->stats[2 * r], rstd = k->stats[2 * r + 1];
    for (int64_t j = b; j < e; j++) {
      const float xhat = (xr[j] - mean) * rstd;
      k->dg[j] += dyr[j] * xhat;
      k->db[j] += dyr[j];
    }
  }
}

// layerNormGrad(bufX, offX, bufG, offG, bufDy, offDy, bufDx, offDx, bufDg, offDg, bufDb, offDb, rows, cols, eps)
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS("layerNormGrad");
  napi_value a[15];
  int64_t d[2];
  if (!get_args(env, info, a, 15, &errs, d, 2, 12, 13)) return NULL;
  double eps = 0;
  napi_get_value_double(env, a[14], &eps);
  const uint64_t big = 4 * (uint64_t)d[0] * d[1], row = 4 * (uint64_t)d[1];
  const float *x, *g, *dy;
  float *dx, *dg, *db;
  if (!span(env, a[0], a[1], big, 4, &errs, &x) || !span(env, a[2], a[3], row, 4, &errs, &g) || !span(env, a[4], a[5], big, 4, &errs, &dy) ||
      !span(env, a[6], a[7], big, 4, &errs, &dx) || !span(env, a[8], a[9], row, 4, &errs, &dg) || !span(env, a[10], a[11], row, 4, &errs, &db))
    return NULL;
  const int64_t rows = d[0], cols = d[1];
  float* stats = rows > 0 && cols > 0 ? (float*)malloc(8 * (size_t)rows) : NULL;
  if (rows > 0 && cols > 0 && !stats) {
    napi_throw_error(env, NULL, "layerNormGrad: out of memory for the row statistics");
    return NULL;
  }
  lng_ctx c = {x, g, dy, dx, dg, db, stats, rows, cols, (float)eps};
  for (int64_t j = 0; j < cols; j++) dg[j] = db[j] = 0.0f;
  if (rows > 0 && cols > 0) {
    parallel_for(rows, 1 + 8192 / cols, lng_rows_range, &c);
    parallel_for(cols, 32, lng_cols_range, &c);
  }
  free(stats);
  return NULL;
}

// The gradient of log-softmax over each row: dx = dy - Σ(dy)·exp(y), y the forward's output
// (tfjs: Sum, Exp, Mul, Sub — four passes over [rows, V] and three temporaries).
TC static void log_softmax_grad_rows(const float* dy, const float* y, float* dx, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    const float* dyr = dy + r * cols;
    const float* yr = y + r * cols;
    float* dxr = dx + r * cols;
    const float s = sum8(dyr, cols);
    for (int64_t j = 0; j < cols; j++) dxr[j] = dyr[j] - s * exp1(yr[j]);
  }
}

// logSoftmaxGrad(bufDy, offDy, bufY, offY, bufDx, offDx, rows, cols)
static napi_value log_softmax_grad(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS("logSoftmaxGrad");
  napi_value a[8];
  int64_t d[2];
  if (!get_args(env, info, a, 8, &errs, d, 2, 6, 7)) return NULL;
  const uint64_t big = 4 * (uint64_t)d[0] * d[1];
  const float *dy, *y;
  float* dx;
  if (!span(env, a[0], a[1], big, 4, &errs, &dy) || !span(env, a[2], a[3], big, 4, &errs, &y) || !span(env, a[4], a[5], big, 4, &errs, &dx)) return NULL;
  rows_par(ROWS_LOG_SOFTMAX_GRAD, dy, y, NULL, dx, d[0], d[1], 0);
  return NULL;
}

// The gradient of per-row (nll, smooth) = (-lprobs[t], -Σ lprobs) (both 0 where t is the ignored
// index) with respect to lprobs, from the upstream gradient dy [rows, 2]: row r of dx is
// -dy[r,1] everywhere and additionally -dy[r,0] at column t[r]. One write pass; tfjs builds it from a
// scatter of the gather's gradient, a broadcast of the sum's, masks and an add over [rows, V].
TC static void smoothed_nll_grad_rows(const float* dy, const int32_t* t, float* dx, int64_t rows, int64_t cols, int has_ignore, int32_t ignore) {
  for (int64_t r = 0; r < rows; r++) {
    float* dxr = dx + r * cols;
    const int keep = !(has_ignore && t[r] == ignore);
    const float fill = keep ? -dy[2 * r + 1] : 0.0f;
    for (int64_t j = 0; j < cols; j++) dxr[j] = fill;
    if (keep && t[r] >= 0 && t[r] < cols) dxr[t[r]] -= dy[2 * r];
  }
}

typedef struct {
  const float* dy;
  const int32_t* t;
  float* dx;
  int64_t cols;
  int has_ignore;
  int32_t ignore;
} snll_ctx;
static void snll_range(void* c, int64_t b, int64_t e) {
  const snll_ctx* k = c;
  smoothed_nll_grad_rows(k->dy + 2 * b, k->t + b, k->dx + b * k->cols, e - b, k->cols, k->has_ignore, k->ignore);
}

// smoothedNllGrad(bufDy, offDy, bufT, offT, bufDx, offDx, rows, cols, hasIgnore, ignoreIndex)
static napi_value smoothed_nll_grad(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS("smoothedNllGrad");
  napi_value a[10];
  int64_t d[2];
  if (!get_args(env, info, a, 10, &errs, d, 2, 6, 7)) return NULL;
  bool has_ignore = false;
  napi_get_value_bool(env, a[8], &has_ignore);
  const int32_t ignore = (int32_t)get_i64(env, a[9]);
  const float* dy;
  const int32_t* t;
  float* dx;
  if (!span(env, a[0], a[1], 8 * (uint64_t)d[0], 4, &errs, &dy) || !span(env, a[2], a[3], 4 * (uint64_t)d[0], 4, &errs, &t) ||
      !span(env, a[4], a[5], 4 * (uint64_t)d[0] * d[1], 4, &errs, &dx))
    return NULL;
  snll_ctx c = {dy, t, dx, d[1], has_ignore, ignore};
  parallel_for(d[0], 1 + 16384 / (d[1] > 0 ? d[1] : 1), snll_range, &c);
  return NULL;
}

// ---- The output layer and label-smoothed cross-entropy in one pass (Liger's "fused linear
// cross-entropy"). For a block of rows at a time: logits = x · Wᵀ into a small buffer, then per row
// the loss terms and, in place, d(loss)/d(logits); then dx = dlogits · W and dW += dlogitsᵀ · x. The
// [rows, V] logits, log-probabilities and their gradients are never stored whole (tiny transformer:
// 48 MB each per 2,048-token batch), so the softmax passes stay in cache instead of streaming memory.
// The loss is a·Σnll + b·Σsmooth over the rows whose target is not the ignored index, with
// nll = lse − logit[t] and smooth = Σ_v (lse − logit_v) (fairseq's label_smoothed_nll_loss with
// a = 1 − ε − ε_i, b = ε_i); its gradient w.r.t. logit_v is (a + b·V)·p_v − b − a·[v = t].

// Rows per block. Each block re-reads W and adds into all of dW (V × C floats each) around its
// GEMMs, so the per-block cost grows with C and wants more rows as C grows; the block itself
// (rows × V floats) wants to stay small. Medians of forward + backward on a 2,048-row batch, one
// thread, block sizes interleaved in one process (2026-12-02):
//   V = 5,928, C = 64:  96 rows 75.4 ms, 128 73.9, 192 76.0, 256 77.3, 353 78.6, 512 81.5
//   V = 5,928, C = 256: 64 rows 258.6 ms, 128 238.0, 256 229.6, 353 224.4, 512 219.1
//   V = 32,000, C = 64: 128 rows 486 ms, 192 469, 256 472, 384 469;  C = 256: 128 1,315, 256 1,242, 512 1,205
// So rows = 2·C (128 for C = 64, 512 from C = 256 on), within 32..512, and the block at most 64 MB.
static int64_t lsn_block_rows(int64_t V, int64_t C) {
  int64_t r = 2 * C;
  if (r > 512) r = 512;
  if (r < 32) r = 32;
  const int64_t cap = ((int64_t)1 << 24) / (V > 0 ? V : 1);
  if (r > cap) r = cap > 16 ? cap : 16;
  return r;
}

// The per-row part for one block (logits in L, rows × V, overwritten by d(loss)/d(logits) when grad).
// terms: per row [nll, smooth, argmax is the target, state] in double, state 1 = counted, 0 = ignored,
// -1 = a target outside [0, V) (the row is left as it is). The caller adds the counted rows' terms in
// row order, so the sums do not depend on how the rows were split between threads.
TC static void lsn_rows(float* L, const int32_t* t, int64_t rows, int64_t V, float a, float b, int has_ignore, int32_t ignore, int grad, double* terms) {
  for (int64_t r = 0; r < rows; r++) {
    float* l = L + r * V;
    const int32_t tr = t[r];
    double* acc = terms + 4 * r;
    if (has_ignore && tr == ignore) {
      if (grad) memset(l, 0, V * 4);
      acc[3] = 0;
      continue;
    }
    if (tr < 0 || tr >= V) {
      acc[3] = -1;
      continue;
    }
    // max and the first index holding it (tf.argMax's choice among equal values)
    float m = -__builtin_inff();
    int64_t am = 0;
    for (int64_t j = 0; j < V; j++)
      if (l[j] > m) {
        m = l[j];
        am = j;
      }
    const float lt = l[tr];
    float ps[8] = {0, 0, 0, 0, 0, 0, 0, 0}, pd[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= V; j += 8)
      for (int q = 0; q < 8; q++) {
        const float d = l[j + q] - m;
        pd[q] -= d;
        const float e = exp1(d);
        ps[q] += e;
        l[j + q] = e;
      }
    float s = 0.0f, dsum = 0.0f;
    for (int q = 0; q < 8; q++) {
      s += ps[q];
      dsum += pd[q];
    }
    for (; j < V; j++) {
      const float d = l[j] - m;
      dsum -= d;
      const float e = exp1(d);
      s += e;
      l[j] = e;
    }
    const float ls = logf(s);
    // nll = lse − l[t] = ls − (l[t] − m); smooth = Σ (lse − l_v) = Σ (m − l_v) + V·ls
    acc[0] = (double)ls - ((double)lt - (double)m);
    acc[1] = (double)dsum + (double)V * ls;
    acc[2] = am == tr;
    acc[3] = 1;
    if (grad) {
      const float c = (a + b * (float)V) / s;
      for (int64_t k = 0; k < V; k++) l[k] = c * l[k] - b;
      l[tr] -= a;
    }
  }
}

typedef struct {
  float* L;
  const int32_t* t;
  int64_t V;
  float a, b;
  int has_ignore;
  int32_t ignore;
  int grad;
  double* terms;
} lsn_ctx;
static void lsn_range(void* c, int64_t b, int64_t e) {
  const lsn_ctx* k = c;
  lsn_rows(k->L + b * k->V, k->t + b, e - b, k->V, k->a, k->b, k->has_ignore, k->ignore, k->grad, k->terms + 4 * b);
}

// Per thread (an addon can be loaded by several worker_threads at once), grown as needed and kept:
// one block of logits and its rows' loss terms.
static _Thread_local float* lsn_work = NULL;
static _Thread_local int64_t lsn_work_len = 0;
static _Thread_local double* lsn_terms = NULL;

// linearSmoothedNll(bufX, offX, bufW, offW, bufT, offT, bufStats, offStats, bufDx, offDx, bufDw, offDw,
//   N, V, E, a, b, hasIgnore, ignoreIndex): x [N, E], W [V, E], int32 t [N]; stats [4] = Σnll, Σsmooth,
// rows whose argmax is the target, rows counted; dx [N, E] and dW [V, E] when offDx >= 0. Byte offsets.
static napi_value linear_smoothed_nll(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS("linearSmoothedNll");
  napi_value a[19];
  int64_t d[3];
  if (!get_args(env, info, a, 19, &errs, d, 3, 12, 13, 14)) return NULL;
  const int64_t N = d[0], V = d[1], E = d[2];
  double wa = 0, wb = 0;
  napi_get_value_double(env, a[15], &wa);
  napi_get_value_double(env, a[16], &wb);
  bool has_ignore = false;
  napi_get_value_bool(env, a[17], &has_ignore);
  const int32_t ignore = (int32_t)get_i64(env, a[18]);
  const int grad = get_i64(env, a[9]) >= 0;
  const float *x, *W;
  const int32_t* t;
  float *stats, *dx = NULL, *dW = NULL;
  if (!span(env, a[0], a[1], 4 * (uint64_t)N * E, 4, &errs, &x) || !span(env, a[2], a[3], 4 * (uint64_t)V * E, 4, &errs, &W) ||
      !span(env, a[4], a[5], 4 * (uint64_t)N, 4, &errs, &t) || !span(env, a[6], a[7], 16, 4, &errs, &stats))
    return NULL;
  if (grad && (!span(env, a[8], a[9], 4 * (uint64_t)N * E, 4, &errs, &dx) || !span(env, a[10], a[11], 4 * (uint64_t)V * E, 4, &errs, &dW)))
    return NULL;
  double acc[4] = {0, 0, 0, 0};
  if (grad) memset(dW, 0, 4 * (size_t)V * E);
  const int64_t R = N < lsn_block_rows(V, E) ? N : lsn_block_rows(V, E);
  if (R * V > lsn_work_len || !lsn_terms) {
    // grow-only workspace: one block of logits, kept for the next call (every training batch)
    free(lsn_work);
    free(lsn_terms);
    lsn_work = (float*)malloc(4 * (size_t)(R * V > 0 ? R * V : 1));
    lsn_terms = (double*)malloc(4 * sizeof(double) * (size_t)(R > 0 ? R : 1));
    lsn_work_len = lsn_work && lsn_terms ? R * V : 0;
    if (!lsn_work || !lsn_terms) {
      free(lsn_work);
      free(lsn_terms);
      lsn_work = NULL;
      lsn_terms = NULL;
      napi_throw_error(env, NULL, "linearSmoothedNll: out of memory for the logits block");
      return NULL;
    }
  }
  float* L = lsn_work;
  for (int64_t r0 = 0; r0 < N; r0 += R) {
    const int64_t rows = N - r0 < R ? N - r0 : R;
    const float* xb = x + r0 * E;
    if (E > 0) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)V, (int)E, 1.0f, xb, (int)E, W, (int)E, 0.0f, L, (int)V);
    } else {
      memset(L, 0, 4 * (size_t)(rows * V));
    }
    lsn_ctx lc = {L, t + r0, V, (float)wa, (float)wb, has_ignore, ignore, grad, lsn_terms};
    parallel_for(rows, 1 + 65536 / (V > 0 ? V : 1), lsn_range, &lc);
    int64_t bad = -1;
    for (int64_t r = 0; r < rows && bad < 0; r++) {
      const double* tr = lsn_terms + 4 * r;
      if (tr[3] < 0) bad = r;
      else if (tr[3] > 0) {
        acc[0] += tr[0];
        acc[1] += tr[1];
        acc[2] += tr[2];
        acc[3] += 1;
      }
    }
    if (bad >= 0) {
      char msg[128];
      snprintf(msg, sizeof msg, "%s: target %d at row %lld is outside the vocabulary [0, %lld)", errs.fn, (int)t[r0 + bad], (long long)(r0 + bad), (long long)V);
      napi_throw_range_error(env, NULL, msg);
      return NULL;
    }
    if (grad && E > 0) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)E, (int)V, 1.0f, L, (int)V, W, (int)E, 0.0f, dx + r0 * E, (int)E);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)V, (int)E, (int)rows, 1.0f, L, (int)V, xb, (int)E, 1.0f, dW, (int)E);
    }
  }
  for (int i = 0; i < 4; i++) stats[i] = (float)acc[i];
  return NULL;
}

// One Adam step over n parameters, in the float32 operations and order of the composite tfjs ops it
// replaces (so the results are bitwise the same): m' = m·b1 + g·c1, v' = v·b2 + (g·g)·c2, then
// fairseq's adam (mode 0): denom = sqrt(v') + eps, p_d = p − p·decay; or PyTorch's AdamW (mode 1):
// denom = sqrt(v')/sqrt_bc2 + eps, p_d = p·decay; p' = p_d − (m'/denom)·step. One pass instead of
// twelve kernels and eleven temporaries per parameter tensor.
TC static void adam_loop(const float* p, const float* g, const float* m, const float* v, float* p2, float* m2, float* v2, int64_t n,
                         float b1, float c1, float b2, float c2, float eps, float step, float decay, float sqrt_bc2, int mode, int has_decay) {
  for (int64_t i = 0; i < n; i++) {
    const float m1 = m[i] * b1 + g[i] * c1;
    const float v1 = v[i] * b2 + (g[i] * g[i]) * c2;
    const float denom = (mode ? sqrtf(v1) / sqrt_bc2 : sqrtf(v1)) + eps;
    float pd = p[i];
    if (has_decay) pd = mode ? pd * decay : pd - pd * decay;
    p2[i] = pd - (m1 / denom) * step;
    m2[i] = m1;
    v2[i] = v1;
  }
}

typedef struct {
  const float* in[4];
  float* out[3];
  float h[8];
  int mode, has_decay;
} adam_ctx;
static void adam_range(void* c, int64_t b, int64_t e) {
  const adam_ctx* k = c;
  adam_loop(k->in[0] + b, k->in[1] + b, k->in[2] + b, k->in[3] + b, k->out[0] + b, k->out[1] + b, k->out[2] + b, e - b, k->h[0], k->h[1], k->h[2], k->h[3],
            k->h[4], k->h[5], k->h[6], k->h[7], k->mode, k->has_decay);
}

// adamStep(bufP, offP, bufG, offG, bufM, offM, bufV, offV, bufP2, offP2, bufM2, offM2, bufV2, offV2, n,
//          b1, c1, b2, c2, eps, step, decay, sqrtBc2, mode, hasDecay)
static napi_value adam_step(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS("adamStep");
  napi_value a[25];
  int64_t n;
  if (!get_args(env, info, a, 25, &errs, &n, 1, 14)) return NULL;
  const uint64_t bytes = 4 * (uint64_t)n;
  const float* in[4];
  float* out[3];
  for (int k = 0; k < 4; k++)
    if (!span(env, a[2 * k], a[2 * k + 1], bytes, 4, &errs, &in[k])) return NULL;
  for (int k = 0; k < 3; k++)
    if (!span(env, a[8 + 2 * k], a[9 + 2 * k], bytes, 4, &errs, &out[k])) return NULL;
  double h[8];
  for (int k = 0; k < 8; k++) napi_get_value_double(env, a[15 + k], &h[k]);
  int32_t mode = 0;
  bool has_decay = false;
  napi_get_value_int32(env, a[23], &mode);
  napi_get_value_bool(env, a[24], &has_decay);
  adam_ctx c = {{in[0], in[1], in[2], in[3]}, {out[0], out[1], out[2]}, {(float)h[0], (float)h[1], (float)h[2], (float)h[3], (float)h[4], (float)h[5], (float)h[6], (float)h[7]}, mode, has_decay};
  parallel_for(n, 16384, adam_range, &c);
  return NULL;
}

// Dropout with a counter-based generator: element i is kept when hash(i, seed) < keep·2^32, and kept
// values are scaled by 1/keep. The mask is a pure function of (seed, i), so the backward is this same
// kernel applied to dy with the same seed (no mask is stored), and the loop vectorizes (32-bit
// multiplies). tfjs's dropout draws every uniform from a JavaScript generator: about 130 ms per
// update of the small config, more than its matrix products' share of some layers.
static inline uint32_t lowbias32(uint32_t x) { // Chris Wellons' 32-bit integer hash (a bijection)
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// Elements [i0, i0 + n) of x and y (the hash is of the element's index in the whole tensor).
TC static void dropout_loop(const float* x, float* y, int64_t i0, int64_t n, uint32_t s1, uint32_t s2, uint32_t threshold, float scale) {
  x += i0;
  y += i0;
  for (int64_t i = 0; i < n; i++) {
    const uint32_t h = lowbias32(lowbias32((uint32_t)(i0 + i) ^ s1) + s2);
    y[i] = h < threshold ? x[i] * scale : 0.0f;
  }
}

typedef struct {
  const float* x;
  float* y;
  uint32_t s1, s2, threshold;
  float scale;
} dropout_ctx;
static void dropout_range(void* c, int64_t b, int64_t e) {
  const dropout_ctx* k = c;
  dropout_loop(k->x, k->y, b, e - b, k->s1, k->s2, k->threshold, k->scale);
}

// dropout(bufX, offX, bufY, offY, n, keep, seed): float32, byte offsets; seed any integer below 2^53.
static napi_value dropout_fn(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS("dropout");
  napi_value a[7];
  int64_t n;
  if (!get_args(env, info, a, 7, &errs, &n, 1, 4)) return NULL;
  double keep = 1, seed = 0;
  napi_get_value_double(env, a[5], &keep);
  napi_get_value_double(env, a[6], &seed);
  if (!(keep > 0 && keep <= 1) || n >= ((int64_t)1 << 32)) {
    napi_throw_range_error(env, NULL, "dropout: keep probability must be in (0, 1] and n below 2^32");
    return NULL;
  }
  const float* x;
  float* y;
  if (!span(env, a[0], a[1], 4 * (uint64_t)n, 4, &errs, &x) || !span(env, a[2], a[3], 4 * (uint64_t)n, 4, &errs, &y)) return NULL;
  // splitmix64 of the seed gives the two 32-bit keys
  uint64_t z = (uint64_t)(int64_t)seed + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  const double t = keep * 4294967296.0;
  const uint32_t threshold = t >= 4294967295.0 ? 0xFFFFFFFFU : (uint32_t)t;
  if (keep == 1) {
    memmove(y, x, 4 * (size_t)n);
    return NULL;
  }
  dropout_ctx c = {x, y, (uint32_t)z, (uint32_t)(z >> 32), threshold, (float)(1.0 / keep)};
  parallel_for(n, 16384, dropout_range, &c);
  return NULL;
}

// setThreads(n): the BLAS threads for products big enough to share (n > 0; others are ignored).
static napi_value set_threads(napi_env env, napi_callback_info info) {
  static const arg_errors errs = ARG_ERRORS("setThreads");
  napi_value a[1];
  if (!get_args(env, info, a, 1, &errs, NULL, 0)) return NULL;
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
      {"sumAxis", NULL, sum_axis_fn, NULL, NULL, NULL, napi_default, NULL},
      {"copyBlocks", NULL, copy_blocks, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
      {"logSoftmaxGrad", NULL, log_softmax_grad, NULL, NULL, NULL, napi_default, NULL},
      {"smoothedNllGrad", NULL, smoothed_nll_grad, NULL, NULL, NULL, napi_default, NULL},
      {"linearSmoothedNll", NULL, linear_smoothed_nll, NULL, NULL, NULL, napi_default, NULL},
      {"adamStep", NULL, adam_step, NULL, NULL, NULL, napi_default, NULL},
      {"dropout", NULL, dropout_fn, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
