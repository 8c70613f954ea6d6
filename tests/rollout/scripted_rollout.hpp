// The fake Rollout (tests/fakes/fake_rollout.hpp) in scripted mode, for the rollout/ client tests: the test's
// script answers every request (status, body, headers, delay, no answer, bytes after the reply), and the
// fake records each request with its connection and measures peak concurrency. Started on construction,
// stopped on destruction; url() spells the listener the options chose with the bind address.
#pragma once

#include "fake_rollout.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rollout_mcp::rollout::test {

using fake::RecordedRequest;
using fake::ScriptedReply;

struct ScriptedOptions {
    std::string bind = "127.0.0.1";   // loopback only
    bool tls = false;                 // url() and port() name the TLS listener
    std::string cert_pem, key_pem;    // the TLS listener's certificate (tls)
};

class ScriptedRollout {
public:
    explicit ScriptedRollout(fake::Script script, ScriptedOptions options = {})
        : options_(std::move(options)), fake_(fake_options(std::move(script), options_)) {
        fake_.start();
    }

    std::uint16_t port() const { return options_.tls ? fake_.tls_port() : fake_.port(); }
    // "http://127.0.0.1:PORT", "https://127.0.0.2:PORT", "http://[::1]:PORT"
    std::string url() const {
        const auto& bind = options_.bind;
        const std::string host = bind.find(':') != std::string::npos ? "[" + bind + "]" : bind;
        return (options_.tls ? "https://" : "http://") + host + ":" + std::to_string(port());
    }
    std::vector<RecordedRequest> requests() const { return fake_.requests(); }
    int connections() const { return fake_.connections(); }
    int peak_in_flight() const { return fake_.peak_in_flight(); }

private:
    static fake::Options fake_options(fake::Script script, const ScriptedOptions& o) {
        fake::Options f;
        f.bind = o.bind;
        f.tls = o.tls;
        f.tls_cert_pem = o.cert_pem;
        f.tls_key_pem = o.key_pem;
        f.script = std::move(script);
        return f;
    }

    ScriptedOptions options_;
    fake::FakeRollout fake_;
};

}  // namespace rollout_mcp::rollout::test
