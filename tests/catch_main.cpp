// Catch2 (v2, Debian's `catch2` package) main shared by every test binary.
// After the run it prints one summary line, "<binary>: N passed, N failed",
// that tests/run_all.sh adds up into the suite's closing line.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

static int g_cases_passed = 0;
static int g_cases_failed = 0;

struct CountingListener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testCaseEnded(const Catch::TestCaseStats& stats) override {
        if (stats.totals.assertions.failed > 0 || stats.totals.testCases.failed > 0) g_cases_failed++;
        else g_cases_passed++;
    }
};
CATCH_REGISTER_LISTENER(CountingListener)

int main(int argc, char* argv[]) {
    int rc = Catch::Session().run(argc, argv);
    const char* name = strrchr(argv[0], '/');
    printf("%s: %d passed, %d failed\n", name ? name + 1 : argv[0], g_cases_passed, g_cases_failed);
    return rc;
}
