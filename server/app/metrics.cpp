// Prometheus text exposition (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include "server/app/metrics.hpp"

#include <cmath>
#include <charconv>
#include <cstdio>

namespace rollout_mcp::metrics {

void Counter::add(double v) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
}

void Gauge::add(double v) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    std::lock_guard lock(mu_);
    ++buckets_[i];
    sum_ += v;
    ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.bounds = bounds_;
    std::lock_guard lock(mu_);
    std::uint64_t running = 0;
    for (auto b : buckets_) {
        running += b;
        s.cumulative.push_back(running);
    }
    s.sum = sum_;
    s.count = count_;
    return s;
}

std::string escape_label_value(const std::string& v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

namespace {

std::string escape_help(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string labels_text(const std::vector<std::string>& names, const std::vector<std::string>& values,
                        const std::string& extra_name = {}, const std::string& extra_value = {}) {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
        out += out.empty() ? "{" : ",";
        out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
    }
    if (!extra_name.empty()) {
        out += out.empty() ? "{" : ",";
        out += extra_name + "=\"" + extra_value + "\"";
    }
    if (!out.empty()) out += "}";
    return out;
}

template <class F>
void header(std::string& out, const F& family, const char* type) {
    out += "# HELP " + family.name() + " " + escape_help(family.help()) + "\n";
    out += "# TYPE " + family.name() + " " + type + "\n";
}

}  // namespace

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);   // shortest text that reads back exactly
    return ec == std::errc{} ? std::string(buf, end) : std::to_string(v);
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
    std::lock_guard lock(mu_);
    for (auto& f : counters_)
        if (f->name() == name) return *f;   // one family per name, however often it is asked for
    counters_.push_back(std::make_unique<Family<Counter>>(name, help, std::move(labels),
                                                           [] { return std::make_unique<Counter>(); }));
    return *counters_.back();
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
    std::lock_guard lock(mu_);
    for (auto& f : gauges_)
        if (f->name() == name) return *f;   // one family per name, however often it is asked for
    gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, std::move(labels),
                                                       [] { return std::make_unique<Gauge>(); }));
    return *gauges_.back();
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> labels, std::vector<double> bounds) {
    std::lock_guard lock(mu_);
    for (auto& f : histograms_)
        if (f->name() == name) return *f;
    histograms_.push_back(std::make_unique<Family<Histogram>>(
        name, help, std::move(labels), [bounds] { return std::make_unique<Histogram>(bounds); }));
    return *histograms_.back();
}

std::size_t Registry::on_collect(std::function<void()> hook) {
    std::lock_guard lock(mu_);
    hooks_.emplace(next_hook_, std::move(hook));
    return next_hook_++;
}

void Registry::remove_collect(std::size_t id) {
    std::lock_guard lock(mu_);
    hooks_.erase(id);
}

std::string Registry::render() const {
    std::lock_guard lock(mu_);
    for (const auto& [id, hook] : hooks_) hook();
    std::string out;
    for (const auto& f : counters_) {
        header(out, *f, "counter");
        f->each([&](const std::vector<std::string>& values, const Counter& c) {
            out += f->name() + labels_text(f->labels(), values) + " " + format_value(c.value()) + "\n";
        });
    }
    for (const auto& f : gauges_) {
        header(out, *f, "gauge");
        f->each([&](const std::vector<std::string>& values, const Gauge& g) {
            out += f->name() + labels_text(f->labels(), values) + " " + format_value(g.value()) + "\n";
        });
    }
    for (const auto& f : histograms_) {
        header(out, *f, "histogram");
        f->each([&](const std::vector<std::string>& values, const Histogram& h) {
            const auto s = h.snapshot();
            for (std::size_t i = 0; i < s.bounds.size(); ++i)
                out += f->name() + "_bucket" + labels_text(f->labels(), values, "le", format_value(s.bounds[i])) + " " +
                       std::to_string(s.cumulative[i]) + "\n";
            out += f->name() + "_bucket" + labels_text(f->labels(), values, "le", "+Inf") + " " +
                   std::to_string(s.cumulative.back()) + "\n";
            out += f->name() + "_sum" + labels_text(f->labels(), values) + " " + format_value(s.sum) + "\n";
            out += f->name() + "_count" + labels_text(f->labels(), values) + " " + std::to_string(s.count) + "\n";
        });
    }
    return out;
}

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace rollout_mcp::metrics
