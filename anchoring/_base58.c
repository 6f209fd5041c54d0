/* base58btc in C, for anchoring/multibase.py: every signature an issuer writes and every one a verifier reads
 * goes through it (an Ed25519 signature is 64 bytes, 87-88 characters).
 *
 * Optional, like _keccak.c: multibase.py falls back to its pure-Python functions when this is not built, for
 * inputs longer than MAX_BYTES / MAX_CHARS (the loops here are quadratic), and for any text that is not
 * all base58btc characters (decode returns None; the pure function then raises its exact error). The result
 * equals the pure functions' for every input (tests/unit/test_multibase.py compares them).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_BYTES 1024
#define MAX_CHARS 1400 /* 1024 bytes take at most 1,399 digits */
#define DIGITS_ROOM (MAX_BYTES * 138 / 100 + 1) /* the most digits `encode` works in */

static const char ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Each ASCII character's digit, or -1: filled once at import. */
static int8_t DIGIT[128];

#define LIMB 656356768u /* 58**5: five digits a limb, below 2**30 */
#define WORDS_ROOM ((MAX_CHARS / 5 + 2) * 32 / 30) /* 32-bit words of a number of MAX_CHARS digits, with room */

/* Leading zero bytes become leading '1's; the rest is the big-endian number in base 58, no leading zero digit.
 * The number is held as 32-bit words and divided by 58**5 a pass, so each pass gives five digits. */
static PyObject *encode(PyObject *self, PyObject *arg) {
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) return NULL;
    if (data.len > MAX_BYTES) {
        PyBuffer_Release(&data);
        PyErr_Format(PyExc_ValueError, "base58 encode: at most %d bytes, not %zd", MAX_BYTES, data.len);
        return NULL;
    }
    const uint8_t *in = data.buf;
    Py_ssize_t n = data.len, zeros = 0;
    while (zeros < n && in[zeros] == 0) zeros++;
    uint32_t words[MAX_BYTES / 4 + 1];
    Py_ssize_t count = 0, first = 0, length = 0;
    Py_ssize_t head = (n - zeros) % 4; /* bytes in the most significant word */
    for (Py_ssize_t k = zeros; k < n;) {
        uint32_t word = 0;
        for (Py_ssize_t end = k + (k == zeros && head ? head : 4); k < end; k++) word = word << 8 | in[k];
        words[count++] = word;
    }
    uint8_t digits[DIGITS_ROOM + 5]; /* least significant first */
    while (first < count) {
        uint64_t rest = 0;
        for (Py_ssize_t i = first; i < count; i++) {
            uint64_t current = rest << 32 | words[i];
            words[i] = (uint32_t)(current / LIMB);
            rest = current % LIMB;
        }
        while (first < count && words[first] == 0) first++;
        for (int j = 0; j < 5; j++, rest /= 58) digits[length++] = (uint8_t)(rest % 58);
    }
    while (length > 0 && digits[length - 1] == 0) length--;
    PyObject *text = PyUnicode_New(zeros + length, 127);
    if (text) {
        char *out = (char *)PyUnicode_DATA(text);
        memset(out, '1', (size_t)zeros);
        for (Py_ssize_t at = 0; at < length; at++) out[zeros + at] = ALPHABET[digits[length - 1 - at]];
    }
    PyBuffer_Release(&data);
    return text;
}

/* The bytes of a base58btc text; None if it holds anything but base58btc characters or is longer than
 * MAX_CHARS (the caller's pure function then answers, or raises its exact error). Five digits at a time are
 * multiplied into the number, held as 32-bit words, least significant first. */
static PyObject *decode(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "base58 decode takes str, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    if (!PyUnicode_IS_ASCII(arg) || n > MAX_CHARS) Py_RETURN_NONE;
    const uint8_t *in = PyUnicode_DATA(arg);
    Py_ssize_t zeros = 0;
    while (zeros < n && in[zeros] == '1') zeros++;
    uint32_t words[WORDS_ROOM];
    Py_ssize_t count = 0;
    for (Py_ssize_t k = zeros; k < n;) {
        uint64_t carry = 0, scale = 1;
        for (Py_ssize_t end = k + 5 < n ? k + 5 : n; k < end; k++) {
            int digit = DIGIT[in[k]];
            if (digit < 0) Py_RETURN_NONE;
            carry = carry * 58 + (unsigned)digit;
            scale *= 58;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            uint64_t current = (uint64_t)words[i] * scale + carry;
            words[i] = (uint32_t)current;
            carry = current >> 32;
        }
        if (carry) words[count++] = (uint32_t)carry;
    }
    Py_ssize_t length = 4 * count; /* then without the top word's leading zero bytes */
    if (count) length -= (words[count - 1] < 1u << 8) + (words[count - 1] < 1u << 16) + (words[count - 1] < 1u << 24);
    PyObject *result = PyBytes_FromStringAndSize(NULL, zeros + length);
    if (result) {
        uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
        memset(out, 0, (size_t)zeros);
        for (Py_ssize_t at = 0; at < length; at++) out[zeros + length - 1 - at] = (uint8_t)(words[at / 4] >> (8 * (at % 4)));
    }
    return result;
}

static PyMethodDef methods[] = {
    {"encode", encode, METH_O, "encode(data) -> str: base58btc of at most 1,024 bytes (leading zeros as '1')."},
    {"decode", decode, METH_O,
     "decode(text) -> bytes, or None if text holds anything but base58btc characters or is over 1,400 long."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_base58",
    .m_doc = "base58btc in C (see anchoring/multibase.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__base58(void) {
    memset(DIGIT, -1, sizeof DIGIT);
    for (int i = 0; ALPHABET[i]; i++) DIGIT[(unsigned char)ALPHABET[i]] = (int8_t)i;
    return PyModule_Create(&module);
}
