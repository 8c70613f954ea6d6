// A tiny Prometheus registry and text-format writer (Debian 12 has no prometheus-cpp): counters, gauges
// and histograms with fixed label names, safe to update from any thread, rendered for GET /metrics.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rollout_mcp::metrics {

class Counter {
public:
    void inc(double v = 1) { add(v); }
    double value() const { return value_.load(std::memory_order_relaxed); }
private:
    void add(double v);
    std::atomic<double> value_{0};
};

class Gauge {
public:
    void set(double v) { value_.store(v, std::memory_order_relaxed); }
    void add(double v);
    double value() const { return value_.load(std::memory_order_relaxed); }
private:
    std::atomic<double> value_{0};
};

class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double v);
    struct Snapshot {
        std::vector<double> bounds;
        std::vector<std::uint64_t> cumulative;   // one per bound, then +Inf
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot snapshot() const;
private:
    const std::vector<double> bounds_;
    mutable std::mutex mu_;
    std::vector<std::uint64_t> buckets_;   // per bound, then +Inf (not cumulative)
    double sum_ = 0;
    std::uint64_t count_ = 0;
};

// A metric family: one name, help text, type, label names; children per label values.
template <class Metric>
class Family {
public:
    Family(std::string name, std::string help, std::vector<std::string> labels, std::function<std::unique_ptr<Metric>()> make)
        : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)), make_(std::move(make)) {}
    // Label values in the order of the family's label names; the child lives as long as the family.
    Metric& with(const std::vector<std::string>& values) {
        std::lock_guard lock(mu_);
        auto& slot = children_[values];
        if (!slot) slot = make_();
        return *slot;
    }
    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    const std::vector<std::string>& labels() const { return labels_; }
    template <class F>
    void each(F f) const {
        std::lock_guard lock(mu_);
        for (const auto& [values, metric] : children_) f(values, *metric);
    }
private:
    std::string name_, help_;
    std::vector<std::string> labels_;
    std::function<std::unique_ptr<Metric>()> make_;
    mutable std::mutex mu_;
    std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

class Registry {
public:
    Family<Counter>& counter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
    Family<Gauge>& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
    Family<Histogram>& histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                 std::vector<double> bounds);
    // Called at the start of every render: refresh gauges that are cheaper to read than to track.
    // Returns an id for remove_collect (a hook that refers to an object must go before the object does).
    std::size_t on_collect(std::function<void()> hook);
    void remove_collect(std::size_t id);
    // The Prometheus text exposition format, version 0.0.4.
    std::string render() const;

private:
    mutable std::mutex mu_;
    std::vector<std::unique_ptr<Family<Counter>>> counters_;
    std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
    std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
    std::map<std::size_t, std::function<void()>> hooks_;
    std::size_t next_hook_ = 1;
};

// Escaping per the exposition format: label values escape \ " and newline; HELP escapes \ and newline.
std::string escape_label_value(const std::string& v);
std::string format_value(double v);

// The process-wide registry the server reports into.
Registry& registry();

}  // namespace rollout_mcp::metrics
