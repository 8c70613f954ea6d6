// fake-rollout: the fake Rollout as a stand-alone program for local demos and benchmarks
// (fake-rollout --port 8090 --client-secret dev-secret); prints the bound ports and base URLs, runs until SIGINT/SIGTERM.
// `fake-rollout --write-test-tls DIR` only writes a throw-away CA and a localhost certificate signed by it
// (DIR/ca.pem, DIR/cert.pem, DIR/key.pem mode 0600) for scripts that serve rollout-mcp over TLS, and exits.
#include "fake_rollout.hpp"
#include "fake_tls.hpp"

#include <CLI/CLI.hpp>

#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {
std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}
void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!(out << text)) throw std::runtime_error("cannot write " + path);
}
}  // namespace

int main(int argc, char** argv) {
    using namespace rollout_mcp::fake;
    CLI::App app{"fake-rollout: a fake Rollout (platform, CRM and v2 automation hosts) for tests and demos"};
    Options options;
    options.quiet = false;
    int tls_port = -1;
    int latency_ms = 0;
    std::string port_file, tls_cert, tls_key, ca_out, write_test_tls;
    bool quiet = false;
    app.add_option("--bind", options.bind, "address to listen on")->capture_default_str();
    app.add_option("--port", options.port, "plain HTTP port (0 = a free port)")->capture_default_str();
    app.add_option("--port-file", port_file, "write the bound ports here: 'PORT' or 'PORT TLS_PORT'");
    app.add_option("--tls-port", tls_port, "also serve HTTPS on this port (0 = a free port)");
    app.add_option("--tls-cert", tls_cert, "server certificate chain (PEM); default: a generated test CA + cert");
    app.add_option("--tls-key", tls_key, "server private key (PEM)");
    app.add_option("--ca-out", ca_out, "write the generated test CA certificate (PEM) here");
    app.add_option("--latency-ms", latency_ms, "delay added before every Rollout answer")->check(CLI::NonNegativeNumber);
    app.add_option("--client-secret", options.client_secret,
                   "HS512 key that JWTs must be signed with (default: signatures not checked)");
    app.add_flag("--quiet", quiet, "no per-request log lines");
    app.add_option("--write-test-tls", write_test_tls,
                   "write a test CA, a localhost certificate and its key to this directory, then exit");
    CLI11_PARSE(app, argc, argv);
    options.quiet = quiet;
    options.latency = std::chrono::milliseconds(latency_ms);
    try {
        if (!write_test_tls.empty()) {
            const auto material = make_test_tls();
            write_file(write_test_tls + "/ca.pem", material.ca_pem);
            write_file(write_test_tls + "/cert.pem", material.cert_pem);
            const std::string key = write_test_tls + "/key.pem";
            write_file(key, "");
            ::chmod(key.c_str(), 0600);   // before the key is in it: rollout-mcp refuses a readable key
            write_file(key, material.key_pem);
            return 0;
        }
        if (tls_port >= 0) {
            options.tls = true;
            options.tls_port = static_cast<std::uint16_t>(tls_port);
            if (tls_cert.empty() != tls_key.empty()) throw std::runtime_error("--tls-cert and --tls-key go together");
            if (!tls_cert.empty()) {
                options.tls_cert_pem = read_file(tls_cert);
                options.tls_key_pem = read_file(tls_key);
            }
        }
        // Block the stop signals before any thread starts, then wait for them on this thread.
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);

        FakeRollout fake(options);
        fake.start();
        if (!ca_out.empty()) {
            if (fake.ca_pem().empty()) throw std::runtime_error("--ca-out needs --tls-port without --tls-cert");
            write_file(ca_out, fake.ca_pem());
        }
        std::cout << "fake-rollout port " << fake.port() << "\n";
        if (options.tls) std::cout << "fake-rollout tls-port " << fake.tls_port() << "\n";
        std::cout << "  platform   " << fake.platform_url() << "\n  crm        " << fake.crm_url()
                  << "\n  automation " << fake.automation_url() << "\n  control    " << fake.url() << "/_fake/state\n";
        if (options.client_secret.empty()) std::cout << "  (JWT signatures are not checked: no --client-secret)\n";
        std::cout << std::flush;
        if (!port_file.empty()) {
            std::string text = std::to_string(fake.port());
            if (options.tls) text += " " + std::to_string(fake.tls_port());
            write_file(port_file + ".tmp", text + "\n");
            std::rename((port_file + ".tmp").c_str(), port_file.c_str());
        }
        int sig = 0;
        sigwait(&signals, &sig);
        fake.stop();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "fake-rollout: " << e.what() << std::endl;
        return 1;
    }
}
