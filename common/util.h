// common/util.h: checked I/O and fatal-error helpers shared by every binary.
// A failure prints what was being done, on which file, what was expected and
// what was found, then exits with status 1. Nothing here throws.
#pragma once
#include <glob.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif
#include <sys/stat.h>
#include <unistd.h>
#ifdef USE_MPI
#include <mpi.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

// printf-style fatal error: "error: <message>" on stderr, exit status 1.
// In an MPI run (common/dist.h) the message names the rank, and MPI_Abort
// stops every rank: one rank's missing file must not leave the others
// waiting forever in a collective.
[[noreturn]] inline void die(const char* fmt, ...) {
    fflush(stdout);
    // The whole line goes out in one write: stderr is unbuffered, and under
    // mpirun a prefix written alone can be interleaved with another rank's output.
    char prefix[64] = "error: ";
#ifdef USE_MPI
    int mpi_on = 0, mpi_off = 0, rank = 0, world = 1;
    MPI_Initialized(&mpi_on);
    MPI_Finalized(&mpi_off);
    if (mpi_on && !mpi_off) {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &world);
        snprintf(prefix, sizeof prefix, "error (rank %d of %d): ", rank, world);
    }
#endif
    char line[4096];
    size_t n = strlen(prefix);
    memcpy(line, prefix, n);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : std::min(sizeof line - 2, n + (size_t)m);
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
#ifdef USE_MPI
    if (mpi_on && !mpi_off && world > 1) {
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
#endif
    exit(1);
}

inline FILE* fopen_check(const char* path, const char* mode) {
    FILE* f = fopen(path, mode);
    if (!f) die("cannot open %s (mode %s): %s", path, mode, strerror(errno));
    return f;
}

// Reads exactly n items or dies naming the file and how much was there.
inline void fread_check(void* ptr, size_t size, size_t n, FILE* f, const char* path) {
    size_t got = fread(ptr, size, n, f);
    if (got != n) {
        if (ferror(f)) die("%s: read error: %s", path, strerror(errno));
        die("%s: file is truncated: expected %zu more bytes, found %zu", path, size * n, size * got);
    }
}

inline void fwrite_check(const void* ptr, size_t size, size_t n, FILE* f, const char* path) {
    if (fwrite(ptr, size, n, f) != n) die("%s: write failed: %s", path, strerror(errno));
}

inline void fclose_check(FILE* f, const char* path) {
    if (fclose(f) != 0) die("%s: close failed: %s", path, strerror(errno));
}

inline void fseek_check(FILE* f, long off, int whence, const char* path) {
    if (fseek(f, off, whence) != 0) die("%s: seek failed: %s", path, strerror(errno));
}

inline void* malloc_check(size_t bytes, const char* what) {
    void* p = malloc(bytes ? bytes : 1);
    if (!p) die("out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

inline void* calloc_check(size_t bytes, const char* what) {
    void* p = calloc(bytes ? bytes : 1, 1);
    if (!p) die("out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

// Size of a regular file in bytes; dies if it is missing or a directory.
inline long long file_size_check(const char* path) {
    struct stat st;
    if (stat(path, &st) != 0) die("cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) die("%s is a directory, expected a file", path);
    return (long long)st.st_size;
}

// A whole file as bytes; dies naming the file if it is missing, a directory or unreadable.
inline std::string read_text_file(const std::string& path) {
    long long size = file_size_check(path.c_str());
    std::string s((size_t)size, '\0');
    FILE* f = fopen_check(path.c_str(), "rb");
    if (size > 0) fread_check(&s[0], 1, (size_t)size, f, path.c_str());
    fclose(f);
    return s;
}

// Writes to "<path>.tmp", fsyncs and renames onto <path>, so a crash never
// leaves a half-written file under the real name. `write` gets the open FILE*.
template <typename F>
void write_file_atomic(const std::string& path, F write) {
    std::string tmp = path + ".tmp";
    FILE* f = fopen_check(tmp.c_str(), "wb");
    write(f, tmp.c_str());
    if (fflush(f) != 0) die("%s: flush failed: %s", tmp.c_str(), strerror(errno));
    fclose_check(f, tmp.c_str());
    if (rename(tmp.c_str(), path.c_str()) != 0)
        die("cannot rename %s to %s: %s", tmp.c_str(), path.c_str(), strerror(errno));
}

// Denormal floats (below ~1e-38) take a slow microcode path on x86: once
// attention probabilities and small gradients underflow into that range a
// training step can run 2-3x slower. Flush-to-zero (FTZ) and
// denormals-are-zero (DAZ) treat them as 0, which changes nothing a float
// training run can see. MXCSR is per thread, so every OpenMP thread sets it.
inline void enable_flush_to_zero() {
#if defined(__x86_64__) || defined(__i386__)
    #pragma omp parallel
    _mm_setcsr(_mm_getcsr() | 0x8040);  // bit 15 FTZ, bit 6 DAZ
#endif
}

// True if path exists (file or not); for optional inputs with a default path.
inline bool path_exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// Expands a shell glob into a sorted list of paths; dies if nothing matches.
inline std::vector<std::string> glob_check(const char* pattern, const char* what) {
    glob_t g;
    int rc = glob(pattern, 0, nullptr, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0))
        die("%s: no file matches '%s'", what, pattern);
    if (rc != 0) die("%s: cannot expand '%s' (glob error %d)", what, pattern, rc);
    std::vector<std::string> paths(g.gl_pathv, g.gl_pathv + g.gl_pathc);  // glob sorts them
    globfree(&g);
    return paths;
}

// Creates a directory (and parents) if missing, then checks it is writable
// by creating and removing a probe file. Dies with the reason otherwise.
inline void ensure_writable_dir(const char* dir) {
    std::string path(dir);
    for (size_t i = 1; i <= path.size(); i++) {
        if (i == path.size() || path[i] == '/') {
            std::string part = path.substr(0, i);
            struct stat st;
            if (stat(part.c_str(), &st) == 0) {
                if (!S_ISDIR(st.st_mode)) die("output dir %s: %s is not a directory", dir, part.c_str());
            } else if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
                die("output dir %s: cannot create %s: %s", dir, part.c_str(), strerror(errno));
            }
        }
    }
    std::string probe = path + "/.write_probe";
    FILE* f = fopen(probe.c_str(), "wb");
    if (!f) die("output dir %s is not writable: %s", dir, strerror(errno));
    fclose(f);
    remove(probe.c_str());
}
