// common/args.h: a table-driven command-line parser shared by the trainers.
// Each flag has a short and/or long name, a type and a pointer to the variable
// that holds its default; --help prints the table with those defaults.
// Unknown flags, missing values and malformed numbers are errors.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "util.h"

enum ArgType { ARG_INT, ARG_FLOAT, ARG_STRING, ARG_BOOL };

struct ArgSpec {
    const char* short_name;  // "-i" or nullptr
    const char* long_name;   // "--train" or nullptr
    ArgType type;
    void* value;             // int*, float*, std::string*, bool*
    const char* help;
    bool set = false;        // true once given on the command line
};

inline std::string arg_value_string(const ArgSpec& a) {
    char buf[64];
    switch (a.type) {
        case ARG_INT: snprintf(buf, sizeof buf, "%d", *(int*)a.value); return buf;
        case ARG_FLOAT: snprintf(buf, sizeof buf, "%g", *(float*)a.value); return buf;
        case ARG_BOOL: return *(bool*)a.value ? "on" : "off";
        case ARG_STRING: return "\"" + *(std::string*)a.value + "\"";
    }
    return "";
}

inline void args_print_help(const char* prog, const char* summary, const std::vector<ArgSpec>& specs) {
    printf("usage: %s [flags]\n%s\n\nflags (default in brackets):\n", prog, summary);
    for (const ArgSpec& a : specs) {
        std::string names;
        if (a.short_name) names += a.short_name;
        if (a.short_name && a.long_name) names += ", ";
        if (a.long_name) names += a.long_name;
        if (a.type != ARG_BOOL) names += a.type == ARG_STRING ? " S" : a.type == ARG_INT ? " N" : " X";
        printf("  %-24s %s [%s]\n", names.c_str(), a.help, arg_value_string(a).c_str());
    }
    printf("  %-24s %s\n", "-h, --help", "print this help and exit");
}

inline void arg_parse_value(ArgSpec& a, const char* flag, const char* text) {
    char* end = nullptr;
    errno = 0;
    if (a.type == ARG_INT) {
        long v = strtol(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno || v < -2147483647L || v > 2147483647L)
            die("flag %s expects an integer, got '%s'", flag, text);
        *(int*)a.value = (int)v;
    } else if (a.type == ARG_FLOAT) {
        float v = strtof(text, &end);
        if (*text == '\0' || *end != '\0' || errno) die("flag %s expects a number, got '%s'", flag, text);
        *(float*)a.value = v;
    } else {
        *(std::string*)a.value = text;
    }
}

// Parses argv into the specs; prints help and exits 0 on -h/--help.
inline void args_parse(int argc, char** argv, std::vector<ArgSpec>& specs, const char* summary) {
    for (int i = 1; i < argc; i++) {
        const char* flag = argv[i];
        if (!strcmp(flag, "-h") || !strcmp(flag, "--help")) {
            args_print_help(argv[0], summary, specs);
            exit(0);
        }
        // --name=value is accepted as well as --name value
        std::string name = flag;
        const char* inline_value = nullptr;
        size_t eq = name.find('=');
        if (name.rfind("--", 0) == 0 && eq != std::string::npos) {
            inline_value = flag + eq + 1;
            name = name.substr(0, eq);
        }
        ArgSpec* match = nullptr;
        for (ArgSpec& a : specs)
            if ((a.short_name && name == a.short_name) || (a.long_name && name == a.long_name)) match = &a;
        if (!match) die("unknown flag '%s' (see %s --help)", flag, argv[0]);
        match->set = true;
        if (match->type == ARG_BOOL) {
            if (inline_value) die("flag %s takes no value", name.c_str());
            *(bool*)match->value = true;
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argc) die("flag %s needs a value", flag);
            inline_value = argv[++i];
        }
        arg_parse_value(*match, name.c_str(), inline_value);
    }
}

// True if the flag with this long name was given on the command line.
inline bool arg_was_set(const std::vector<ArgSpec>& specs, const char* long_name) {
    for (const ArgSpec& a : specs)
        if (a.long_name && !strcmp(a.long_name, long_name)) return a.set;
    return false;
}
