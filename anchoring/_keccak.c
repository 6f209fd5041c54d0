/* Keccak-256 and the Merkle tree of anchoring/merkle.py, in C: the tree's hashing, sorting, proofs and their walks.
 *
 * Optional: anchoring/merkle.py uses it when it is built (setup.py builds it wherever a C compiler is found)
 * and falls back to its pure-Python path otherwise; tests/unit/test_keccak_native.py checks both paths give the
 * same bytes. Hashing functions release the GIL, so Python threads run them on every core at once.
 *
 * The permutation is Keccak-f[1600] as FIPS 202 and the Keccak team's reference define it, written out with the
 * lanes in locals (`permute`), built twice on x86-64: for any CPU, and for those with BMI1 and BMI2, chosen at
 * import (`PERMUTATION` names the one in use). The padding is Keccak's original 0x01 (Ethereum's keccak256), not
 * SHA-3's 0x06. Lanes are read little-endian: x86-64 and arm64 only (setup.py builds nothing elsewhere).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "anchoring._keccak reads lanes little-endian"
#endif

#define ROL(a, n) (((a) << (n)) | ((a) >> (64 - (n))))
#define RATE 136

static const uint64_t RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

/* chi of one plane: lanes x0..x4 (through theta, rho and pi) into lanes P##a ... P##u */
#define CHI(P, x0, x1, x2, x3, x4) \
    P##a = x0 ^ (~x1 & x2);        \
    P##e = x1 ^ (~x2 & x3);        \
    P##i = x2 ^ (~x3 & x4);        \
    P##o = x3 ^ (~x4 & x0);        \
    P##u = x4 ^ (~x0 & x1);

/* One round from the lanes A##ba ... A##su into E##ba ... E##su (plane b, g, k, m, s; lane a, e, i, o, u, so
 * lane (x, y) is index x + 5y): theta; then for each output plane the five lanes that rho and pi bring to it, each
 * rotated by its offset; chi; iota. */
#define ROUND(A, E, rc)                                                                                          \
    c0 = A##ba ^ A##ga ^ A##ka ^ A##ma ^ A##sa;                                                                  \
    c1 = A##be ^ A##ge ^ A##ke ^ A##me ^ A##se;                                                                  \
    c2 = A##bi ^ A##gi ^ A##ki ^ A##mi ^ A##si;                                                                  \
    c3 = A##bo ^ A##go ^ A##ko ^ A##mo ^ A##so;                                                                  \
    c4 = A##bu ^ A##gu ^ A##ku ^ A##mu ^ A##su;                                                                  \
    d0 = c4 ^ ROL(c1, 1);                                                                                        \
    d1 = c0 ^ ROL(c2, 1);                                                                                        \
    d2 = c1 ^ ROL(c3, 1);                                                                                        \
    d3 = c2 ^ ROL(c4, 1);                                                                                        \
    d4 = c3 ^ ROL(c0, 1);                                                                                        \
    b0 = A##ba ^ d0, b1 = ROL(A##ge ^ d1, 44), b2 = ROL(A##ki ^ d2, 43), b3 = ROL(A##mo ^ d3, 21);               \
    b4 = ROL(A##su ^ d4, 14);                                                                                    \
    CHI(E##b, b0, b1, b2, b3, b4)                                                                                \
    E##ba ^= (rc);                                                                                               \
    b0 = ROL(A##bo ^ d3, 28), b1 = ROL(A##gu ^ d4, 20), b2 = ROL(A##ka ^ d0, 3), b3 = ROL(A##me ^ d1, 45);       \
    b4 = ROL(A##si ^ d2, 61);                                                                                    \
    CHI(E##g, b0, b1, b2, b3, b4)                                                                                \
    b0 = ROL(A##be ^ d1, 1), b1 = ROL(A##gi ^ d2, 6), b2 = ROL(A##ko ^ d3, 25), b3 = ROL(A##mu ^ d4, 8);         \
    b4 = ROL(A##sa ^ d0, 18);                                                                                    \
    CHI(E##k, b0, b1, b2, b3, b4)                                                                                \
    b0 = ROL(A##bu ^ d4, 27), b1 = ROL(A##ga ^ d0, 36), b2 = ROL(A##ke ^ d1, 10), b3 = ROL(A##mi ^ d2, 15);      \
    b4 = ROL(A##so ^ d3, 56);                                                                                    \
    CHI(E##m, b0, b1, b2, b3, b4)                                                                                \
    b0 = ROL(A##bi ^ d2, 62), b1 = ROL(A##go ^ d3, 55), b2 = ROL(A##ku ^ d4, 39), b3 = ROL(A##ma ^ d0, 41);      \
    b4 = ROL(A##se ^ d1, 2);                                                                                     \
    CHI(E##s, b0, b1, b2, b3, b4)

#define LANES(P)                                                                                                 \
    P##ba, P##be, P##bi, P##bo, P##bu, P##ga, P##ge, P##gi, P##go, P##gu, P##ka, P##ke, P##ki, P##ko, P##ku,    \
        P##ma, P##me, P##mi, P##mo, P##mu, P##sa, P##se, P##si, P##so, P##su

/* Keccak-f[1600], the 25 lanes held in locals (registers, mostly) and two rounds a turn, A into E and back;
 * inlined into each build below. Measured on 2,200 bytes (-O3, three alternated rounds): 7.6-8.0 us for any
 * x86-64 and 5.7-6.1 us with BMI's andn and rorx (`keccakf_bmi`), against 9.1-16.9 us for the state-array form
 * (a temporary array of 25 lanes a round) this replaced. */
static inline __attribute__((always_inline)) void permute(uint64_t s[25]) {
    uint64_t LANES(a), LANES(e), c0, c1, c2, c3, c4, d0, d1, d2, d3, d4, b0, b1, b2, b3, b4;
    aba = s[0], abe = s[1], abi = s[2], abo = s[3], abu = s[4];
    aga = s[5], age = s[6], agi = s[7], ago = s[8], agu = s[9];
    aka = s[10], ake = s[11], aki = s[12], ako = s[13], aku = s[14];
    ama = s[15], ame = s[16], ami = s[17], amo = s[18], amu = s[19];
    asa = s[20], ase = s[21], asi = s[22], aso = s[23], asu = s[24];
    for (int r = 0; r < 24; r += 2) {
        ROUND(a, e, RC[r])
        ROUND(e, a, RC[r + 1])
    }
    s[0] = aba, s[1] = abe, s[2] = abi, s[3] = abo, s[4] = abu;
    s[5] = aga, s[6] = age, s[7] = agi, s[8] = ago, s[9] = agu;
    s[10] = aka, s[11] = ake, s[12] = aki, s[13] = ako, s[14] = aku;
    s[15] = ama, s[16] = ame, s[17] = ami, s[18] = amo, s[19] = amu;
    s[20] = asa, s[21] = ase, s[22] = asi, s[23] = aso, s[24] = asu;
}

static void keccakf_portable(uint64_t s[25]) { permute(s); }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BMI_BUILT 1
/* The same permutation compiled for CPUs with BMI1 and BMI2 (Intel since 2013, AMD since 2015): chosen at import
 * when the CPU has them (`choose_permutation`), so one build runs on any x86-64. */
__attribute__((target("bmi,bmi2"))) static void keccakf_bmi(uint64_t s[25]) { permute(s); }
#endif

typedef void (*permutation_fn)(uint64_t s[25]);

/* The permutation every hash here uses: `keccakf_portable`, or `keccakf_bmi` where the CPU has BMI1 and BMI2. */
static permutation_fn keccakf = keccakf_portable;
static const char *permutation_name = "portable";

static void choose_permutation(void) {
#ifdef BMI_BUILT
    __builtin_cpu_init();
    if (__builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2")) {
        keccakf = keccakf_bmi;
        permutation_name = "bmi";
    }
#endif
}

static void absorb(permutation_fn f, uint64_t s[25], const uint8_t *block) {
    for (int i = 0; i < RATE / 8; i++) {
        uint64_t lane;
        memcpy(&lane, block + 8 * i, 8);
        s[i] ^= lane;
    }
    f(s);
}

/* keccak256 of `len` bytes at `in`, any length, through the permutation `f`. */
static void keccak256_with(permutation_fn f, const uint8_t *in, size_t len, uint8_t out[32]) {
    uint64_t s[25] = {0};
    uint8_t last[RATE];
    for (; len >= RATE; in += RATE, len -= RATE) absorb(f, s, in);
    memset(last, 0, RATE);
    memcpy(last, in, len);
    last[len] ^= 0x01;
    last[RATE - 1] ^= 0x80;
    absorb(f, s, last);
    memcpy(out, s, 32);
}

/* keccak256 of `len` bytes at `in`, any length. */
static void keccak256(const uint8_t *in, size_t len, uint8_t out[32]) { keccak256_with(keccakf, in, len, out); }

/* A parent: keccak256 of its two children, the smaller first (OpenZeppelin's commutative hash). */
static void parent(const uint8_t *a, const uint8_t *b, uint8_t out[32]) {
    uint8_t pair[64];
    if (memcmp(a, b, 32) < 0) {
        memcpy(pair, a, 32);
        memcpy(pair + 32, b, 32);
    } else {
        memcpy(pair, b, 32);
        memcpy(pair + 32, a, 32);
    }
    keccak256(pair, 64, out);
}

/* --- Python ------------------------------------------------------------------------------------------------ */

static PyObject *hash_with(permutation_fn f, PyObject *arg) {
    Py_buffer data;
    uint8_t out[32];
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) return NULL;
    if (data.len >= 4096) {
        Py_BEGIN_ALLOW_THREADS keccak256_with(f, data.buf, (size_t)data.len, out);
        Py_END_ALLOW_THREADS
    } else {
        keccak256_with(f, data.buf, (size_t)data.len, out);
    }
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

static PyObject *py_keccak256(PyObject *self, PyObject *arg) { return hash_with(keccakf, arg); }

static PyObject *py_keccak256_portable(PyObject *self, PyObject *arg) { return hash_with(keccakf_portable, arg); }

/* Checks that [lo, hi) lies within `count` items; sets ValueError and returns 0 otherwise. */
static int in_range(Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t count) {
    if (lo < 0 || hi < lo || hi > count) {
        PyErr_Format(PyExc_ValueError, "range [%zd, %zd) is not within %zd items", lo, hi, count);
        return 0;
    }
    return 1;
}

static PyObject *py_leaves(PyObject *self, PyObject *args) {
    Py_buffer src, dst;
    Py_ssize_t lo, hi;
    if (!PyArg_ParseTuple(args, "y*w*nn", &src, &dst, &lo, &hi)) return NULL;
    PyObject *result = NULL;
    if (src.len % 32 || dst.len != src.len) {
        PyErr_SetString(PyExc_ValueError, "leaves: 32-byte digests in, as many 32-byte leaves out");
    } else if (in_range(lo, hi, src.len / 32)) {
        const uint8_t *in = src.buf;
        uint8_t *out = dst.buf;
        Py_BEGIN_ALLOW_THREADS for (Py_ssize_t i = lo; i < hi; i++) {
            uint8_t once[32];
            keccak256(in + 32 * i, 32, once);
            keccak256(once, 32, out + 32 * i);
        }
        Py_END_ALLOW_THREADS result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return result;
}

typedef struct {
    uint8_t leaf[32];
    uint32_t index;
} record;

static int descending(const void *a, const void *b) { return memcmp(((const record *)b)->leaf, ((const record *)a)->leaf, 32); }

/* Record indices sorted by leaf, descending: counted into 65,536 buckets by the first two bytes (leaves are
 * uniform, so about n / 65,536 a bucket), then each bucket sorted. Equal leaves end up next to each other.
 * Each leaf's bucket is read once, into `key`: the caller's buffer may change under us (the GIL is let go), and
 * a bucket read twice could then overflow the one counted. */
static int sort_descending(const uint8_t *leaves, uint32_t n, uint32_t *order) {
    record *records = malloc((size_t)n * sizeof(record) + 1);
    uint16_t *key = malloc((size_t)n * sizeof(uint16_t) + 1);
    size_t *start = calloc(65537, sizeof(size_t));
    if (!records || !key || !start) {
        free(records);
        free(key);
        free(start);
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        key[i] = (uint16_t)(65535 - (leaves[32 * (size_t)i] << 8 | leaves[32 * (size_t)i + 1]));
        start[key[i] + 1]++;
    }
    for (size_t b = 1; b <= 65536; b++) start[b] += start[b - 1];
    for (uint32_t i = 0; i < n; i++) {
        record *r = &records[start[key[i]]++];
        memcpy(r->leaf, leaves + 32 * (size_t)i, 32);
        r->index = i;
    }
    size_t lo = 0; /* start[b] is now the end of bucket b */
    for (size_t b = 0; b < 65536; b++) {
        size_t hi = start[b];
        if (hi - lo > 1) qsort(records + lo, hi - lo, sizeof(record), descending);
        lo = hi;
    }
    for (uint32_t k = 0; k < n; k++) memcpy(order + k, &records[k].index, 4);
    free(records);
    free(key);
    free(start);
    return 1;
}

static PyObject *py_order(PyObject *self, PyObject *arg) {
    Py_buffer leaves;
    if (PyObject_GetBuffer(arg, &leaves, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = leaves.len / 32;
    if (leaves.len % 32 || n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "order: 32-byte leaves, fewer than 2**32");
    } else if ((result = PyBytes_FromStringAndSize(NULL, 4 * n)) != NULL) {
        int ok;
        uint32_t *order = (uint32_t *)(void *)PyBytes_AS_STRING(result); /* bytes data is 8-byte aligned */
        Py_BEGIN_ALLOW_THREADS ok = sort_descending(leaves.buf, (uint32_t)n, order);
        Py_END_ALLOW_THREADS if (!ok) {
            Py_CLEAR(result);
            PyErr_NoMemory();
        }
    }
    PyBuffer_Release(&leaves);
    return result;
}

#define MAX_LEAVES ((Py_ssize_t)1 << 31) /* slots run to 2n - 2, and must fit 4 bytes */

/* A private copy of `order`, n 4-byte indices at any alignment, checked to name each index below n exactly once;
 * NULL with ValueError (naming `what`) or MemoryError set otherwise. Every later read is of the copy, so nothing
 * the caller does to its buffer meanwhile (another thread, a __del__ run by the collector) can move a write. */
static uint32_t *permutation(const Py_buffer *order, Py_ssize_t n, const char *what) {
    uint32_t *copy = PyMem_Malloc((size_t)n * 4 + 1);
    uint8_t *seen = PyMem_Calloc((size_t)n / 8 + 1, 1);
    if (!copy || !seen) {
        PyMem_Free(copy);
        PyMem_Free(seen);
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, order->buf, (size_t)n * 4);
    for (Py_ssize_t k = 0; k < n; k++) {
        uint32_t i = copy[k];
        if (i >= n || seen[i / 8] & (1 << i % 8)) {
            PyErr_Format(PyExc_ValueError, "%s: the order must name each index below %zd once", what, n);
            PyMem_Free(copy);
            PyMem_Free(seen);
            return NULL;
        }
        seen[i / 8] |= (uint8_t)(1 << i % 8);
    }
    PyMem_Free(seen);
    return copy;
}

static PyObject *py_place(PyObject *self, PyObject *args) {
    Py_buffer leaves, order, nodes, positions;
    if (!PyArg_ParseTuple(args, "y*y*w*w*", &leaves, &order, &nodes, &positions)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = leaves.len / 32;
    uint32_t *from = NULL;
    if (leaves.len % 32 || order.len != 4 * n || positions.len != 4 * n || nodes.len != 32 * (2 * n - 1) || n == 0 ||
        n > MAX_LEAVES) {
        PyErr_SetString(PyExc_ValueError, "place: n leaves, n orders, n positions and 2n - 1 nodes");
    } else if ((from = permutation(&order, n, "place")) != NULL) {
        const uint8_t *leaf = leaves.buf;
        uint8_t *node = nodes.buf, *position = positions.buf;
        Py_ssize_t duplicate = -1;
        for (Py_ssize_t k = 0; k < n; k++) {
            uint32_t slot = (uint32_t)(n - 1 + k);
            memmove(node + 32 * (size_t)slot, leaf + 32 * (size_t)from[k], 32); /* the buffers may overlap */
            memcpy(position + 4 * (size_t)from[k], &slot, 4);
            if (duplicate < 0 && k > 0 && !memcmp(node + 32 * ((size_t)slot - 1), node + 32 * (size_t)slot, 32))
                duplicate = slot;
        }
        result = PyLong_FromSsize_t(duplicate);
    }
    PyMem_Free(from);
    PyBuffer_Release(&leaves);
    PyBuffer_Release(&order);
    PyBuffer_Release(&nodes);
    PyBuffer_Release(&positions);
    return result;
}

static PyObject *py_parents(PyObject *self, PyObject *args) {
    Py_buffer nodes;
    Py_ssize_t lo, hi;
    if (!PyArg_ParseTuple(args, "w*nn", &nodes, &lo, &hi)) return NULL;
    PyObject *result = NULL;
    if (nodes.len % 32) {
        PyErr_SetString(PyExc_ValueError, "parents: a node array of 32-byte nodes");
    } else if (in_range(lo, hi, nodes.len / 32) && (hi == lo || in_range(2 * lo + 1, 2 * hi + 1, nodes.len / 32))) {
        uint8_t *node = nodes.buf;
        Py_BEGIN_ALLOW_THREADS for (Py_ssize_t j = hi - 1; j >= lo; j--)
            parent(node + 32 * (2 * j + 1), node + 32 * (2 * j + 2), node + 32 * j);
        Py_END_ALLOW_THREADS result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&nodes);
    return result;
}

/* Every proof, walked up from each leaf in slot order (the sibling of one leaf's is the next leaf's, so the
 * nodes are read and their objects made in order, not at random) and stored at the leaf's input index. */
static PyObject *py_proofs(PyObject *self, PyObject *args) {
    Py_buffer nodes, order;
    if (!PyArg_ParseTuple(args, "y*y*", &nodes, &order)) return NULL;
    PyObject *result = NULL, **shared = NULL;
    Py_ssize_t n = order.len / 4, size = nodes.len / 32;
    uint32_t *index = NULL;
    if (order.len % 4 || nodes.len % 32 || size != 2 * n - 1 || n == 0 || n > MAX_LEAVES) {
        PyErr_SetString(PyExc_ValueError, "proofs: 2n - 1 nodes and n orders");
        goto done;
    }
    if (!(index = permutation(&order, n, "proofs"))) goto done;
    if (!(shared = PyMem_Calloc(size, sizeof(PyObject *)))) {
        PyErr_NoMemory();
        goto done;
    }
    if (!(result = PyList_New(n))) goto done;
    for (Py_ssize_t k = 0; k < n; k++) {
        size_t h = (size_t)(n + k); /* 1-based: the sibling of node h is h ^ 1, its parent h >> 1 */
        Py_ssize_t depth = 0;
        for (size_t up = h; up > 1; up >>= 1) depth++;
        PyObject *proof = PyTuple_New(depth);
        if (!proof) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, index[k], proof);
        for (Py_ssize_t j = 0; h > 1; j++, h >>= 1) {
            size_t s = (h ^ 1) - 1;
            /* One bytes object a node, shared by every proof that holds it, as the pure path does. */
            if (!shared[s] && !(shared[s] = PyBytes_FromStringAndSize((const char *)nodes.buf + 32 * s, 32))) {
                Py_CLEAR(result);
                goto done;
            }
            PyTuple_SET_ITEM(proof, j, Py_NewRef(shared[s]));
        }
        /* A tuple of bytes can hold no cycle: untracked now, as the collector would on its first pass, so a
         * million new tuples give later collections nothing to walk. */
        PyObject_GC_UnTrack(proof);
    }
done:
    if (shared) {
        for (Py_ssize_t s = 0; s < size; s++) Py_XDECREF(shared[s]);
        PyMem_Free(shared);
    }
    PyMem_Free(index);
    PyBuffer_Release(&nodes);
    PyBuffer_Release(&order);
    return result;
}

/* One leaf's proof as the text of a JSON array's items, "0x<64 hex digits>" each, comma-separated: what a
 * receipt holds, written here from the node array (slot: the leaf's 0-based node index). */
static PyObject *py_proof_json(PyObject *self, PyObject *args) {
    static const char hex[] = "0123456789abcdef";
    Py_buffer nodes;
    Py_ssize_t slot;
    if (!PyArg_ParseTuple(args, "y*n", &nodes, &slot)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t size = nodes.len / 32;
    if (nodes.len % 32 || slot < 0 || slot >= size) {
        PyErr_SetString(PyExc_ValueError, "proof_json: a slot of the node array");
        goto done;
    }
    size_t h = (size_t)slot + 1; /* 1-based: the sibling of node h is h ^ 1, its parent h >> 1 */
    Py_ssize_t depth = 0;
    for (size_t up = h; up > 1; up >>= 1) depth++;
    if (!(result = PyUnicode_New(depth ? 69 * depth - 1 : 0, 127))) goto done;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(result);
    for (Py_ssize_t j = 0; h > 1; j++, h >>= 1) {
        const unsigned char *node = (const unsigned char *)nodes.buf + 32 * ((h ^ 1) - 1);
        if (j) *out++ = ',';
        *out++ = '"';
        *out++ = '0';
        *out++ = 'x';
        for (int b = 0; b < 32; b++) {
            *out++ = hex[node[b] >> 4];
            *out++ = hex[node[b] & 15];
        }
        *out++ = '"';
    }
done:
    PyBuffer_Release(&nodes);
    return result;
}

static int hex_digit(Py_UCS1 c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The parents walks have hashed, by child: a direct-mapped table of (child, sibling as written, parent), each
 * slot picked by the child's first bytes (hashes, so spread evenly). The receipts of one batch share their
 * proofs' upper nodes: each of those is hashed once, then found here by comparing the child and the sibling's
 * text, with no hex read. A parent is only ever stored as computed from that child and that text, so a hit gives
 * what hashing would. 2^17 slots, 16 MiB, allocated on the first walk. */
#define CLIMB_SLOTS (1u << 17)
typedef struct {
    uint8_t child[32], parent[32];
    Py_UCS1 sibling[64];
} climb;
static climb *climbs;

/* The 32 bytes of 64 hex digits (either case, as bytes.fromhex reads them); 0 if any is not a digit. */
static int read_hex(const Py_UCS1 *text, uint8_t out[32]) {
    for (int b = 0; b < 32; b++) {
        int high = hex_digit(text[2 * b]), low = hex_digit(text[2 * b + 1]);
        if (high < 0 || low < 0) return 0;
        out[b] = (uint8_t)(high << 4 | low);
    }
    return 1;
}

/* One level up from `node` with the sibling written as 64 hex digits; 0 if they are not digits. */
static int climb_up(uint8_t node[32], const Py_UCS1 *digits) {
    uint64_t key;
    memcpy(&key, node, 8);
    climb *slot = climbs ? &climbs[key & (CLIMB_SLOTS - 1)] : NULL;
    if (slot && !memcmp(slot->child, node, 32) && !memcmp(slot->sibling, digits, 64)) {
        memcpy(node, slot->parent, 32);
        return 1;
    }
    uint8_t sibling[32];
    if (!read_hex(digits, sibling)) return 0;
    if (slot) {
        memcpy(slot->child, node, 32);
        memcpy(slot->sibling, digits, 64);
    }
    parent(node, sibling, node); /* parent() copies both children before it writes */
    if (slot) memcpy(slot->parent, node, 32);
    return 1;
}

/* A 32-byte leaf walked up its Merkle proof to the root: each item of the list `proof` a str "0x" and 64 hex
 * digits (what bytes.fromhex reads them as). None for anything else (a leaf of another length, an item of
 * another form): the caller walks it in Python, whose answer or error stands. */
static PyObject *py_walk(PyObject *self, PyObject *args) {
    Py_buffer leaf;
    PyObject *proof;
    if (!PyArg_ParseTuple(args, "y*O", &leaf, &proof)) return NULL;
    uint8_t node[32];
    int whole = leaf.len == 32 && PyList_Check(proof);
    if (whole) memcpy(node, leaf.buf, 32);
    PyBuffer_Release(&leaf);
    if (!whole) Py_RETURN_NONE;
    if (!climbs) climbs = PyMem_RawCalloc(CLIMB_SLOTS, sizeof(climb)); /* NULL: walks without the table */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(proof); i++) {
        PyObject *item = PyList_GET_ITEM(proof, i);
        if (!PyUnicode_Check(item) || !PyUnicode_IS_ASCII(item) || PyUnicode_GET_LENGTH(item) != 66) Py_RETURN_NONE;
        const Py_UCS1 *text = PyUnicode_1BYTE_DATA(item);
        if (text[0] != '0' || text[1] != 'x' || !climb_up(node, text + 2)) Py_RETURN_NONE;
    }
    return PyBytes_FromStringAndSize((const char *)node, 32);
}

/* A 32-byte leaf walked up its Merkle proof as the issuer writes it in a receipt: `[]`, or `["0x` 64 lowercase hex
 * digits `"` items joined by commas with nothing else between them, `]`, at most `most` hashes (what
 * verifier/batchfast.py's `_path` reads, without making a str of each hash). (root, number of hashes); None for
 * anything else (the caller reads it the slow way). */
static PyObject *py_walk_written(PyObject *self, PyObject *args) {
    Py_buffer leaf, written;
    Py_ssize_t most;
    if (!PyArg_ParseTuple(args, "y*y*n", &leaf, &written, &most)) return NULL;
    const uint8_t *text = written.buf;
    Py_ssize_t len = written.len, count = (len - 1) / 69; /* each hash: '"0x', 64 digits, '"', then ',' or ']' */
    uint8_t node[32];
    int ok = leaf.len == 32 && len >= 2 && text[0] == '[' && text[len - 1] == ']' &&
             (len == 2 || ((len - 1) % 69 == 0 && count <= most));
    if (len == 2) count = 0;
    if (ok) {
        memcpy(node, leaf.buf, 32);
        if (!climbs) climbs = PyMem_RawCalloc(CLIMB_SLOTS, sizeof(climb)); /* NULL: walks without the table */
    }
    for (Py_ssize_t i = 0; ok && i < count; i++) {
        const uint8_t *item = text + 1 + 69 * i;
        ok = item[0] == '"' && item[1] == '0' && item[2] == 'x' && item[67] == '"' && item[68] == (i + 1 < count ? ',' : ']');
        for (int d = 3; ok && d < 67; d++) ok = (item[d] >= '0' && item[d] <= '9') || (item[d] >= 'a' && item[d] <= 'f');
        ok = ok && climb_up(node, item + 3);
    }
    PyBuffer_Release(&leaf);
    PyBuffer_Release(&written);
    if (!ok) Py_RETURN_NONE;
    return Py_BuildValue("y#n", (const char *)node, (Py_ssize_t)32, count);
}

static PyMethodDef methods[] = {
    {"keccak256", py_keccak256, METH_O, "keccak256(data) -> the 32-byte Keccak-256 digest (Ethereum's)."},
    {"keccak256_portable", py_keccak256_portable, METH_O,
     "keccak256_portable(data) -> keccak256(data) through the permutation built for any CPU (tests, benchmarks)."},
    {"leaves", py_leaves, METH_VARARGS,
     "leaves(digests, out, lo, hi): out[i] = keccak256(keccak256(digests[i])) for 32-byte items i in [lo, hi)."},
    {"order", py_order, METH_O,
     "order(leaves) -> bytes: the leaves' indices (4-byte native unsigned ints) by leaf, descending."},
    {"place", py_place, METH_VARARGS,
     "place(leaves, order, nodes, positions) -> int: the leaves into the node array's tail in `order` and each "
     "index's slot into positions; the first slot whose leaf equals the one before it, or -1."},
    {"parents", py_parents, METH_VARARGS,
     "parents(nodes, lo, hi): every inner node j in [lo, hi) from its children 2j+1 and 2j+2, last first."},
    {"proofs", py_proofs, METH_VARARGS,
     "proofs(nodes, order) -> list of tuples: every leaf's proof, by input index (order: the input index of each "
     "leaf slot from n - 1 on)."},
    {"walk", py_walk, METH_VARARGS,
     "walk(leaf, proof) -> bytes | None: the root a 32-byte leaf's proof (a list of \"0x\" + 64 hex digits) leads "
     "to; None when the leaf or an item is of any other form."},
    {"walk_written", py_walk_written, METH_VARARGS,
     "walk_written(leaf, text, most) -> (bytes, int) | None: the root a 32-byte leaf's proof written as the issuer "
     "writes it (a JSON array of \"0x\" + 64 lowercase hex digits, nothing between them, at most `most`) leads to, "
     "and its number of hashes; None for anything else."},
    {"proof_json", py_proof_json, METH_VARARGS,
     "proof_json(nodes, slot) -> str: the proof of the leaf in node slot `slot` as JSON array items, "
     "\"0x...\" comma-separated."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_keccak",
    .m_doc = "Keccak-256 and the Merkle tree's bulk work in C (see anchoring/merkle.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__keccak(void) {
    choose_permutation();
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "PERMUTATION", permutation_name) < 0) Py_CLEAR(m);
    return m;
}
