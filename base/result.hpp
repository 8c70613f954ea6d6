// The one error vocabulary of every layer (docs/ARCHITECTURE.md, "Errors"): a Result<T> holds a value or
// an Error. An Error's `code` is a std::error_code whose category says which layer failed and how
// (storage::ErrorCode, rollout::ErrorKind, crypto::OpenFailure, std::errc for plain bad input); its
// diagnostics keep our own words (`message`) apart from words that came from Rollout or a CRM
// (`upstream`), as Boost.MySQL's diagnostics keep client and server messages apart
// (https://www.boost.org/doc/libs/1_81_0/libs/mysql/doc/html/mysql/ref/boost__mysql__diagnostics.html).
// Data-dependent failures travel as values; reading the wrong side of a Result is a programming error and
// throws std::logic_error.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace rollout_mcp {

struct Error {
    Error() = default;
    Error(std::error_code c, std::string msg) : code(c), message(std::move(msg)) {}
    Error(std::error_code c, unsigned http_status, std::string msg, bool may_have_reached = false)
        : code(c), status(http_status), message(std::move(msg)), uncertain(may_have_reached) {}

    // Which layer failed and how; compare with the layer's enum. Never 0 ("no error"): a default Error is
    // state_not_recoverable until a layer sets its code.
    std::error_code code = std::make_error_code(std::errc::state_not_recoverable);
    unsigned status = 0;        // HTTP status of a remote reply; 0 when there was none
    std::string message;        // our own text only: safe to log, never a secret
    // What a remote party (Rollout, or the CRM behind it) said, cleaned by rollout::upstream_text(); empty
    // when it said nothing usable. Kept apart from `message` so nobody mistakes their words for ours.
    std::string upstream;
    std::optional<std::chrono::seconds> retry_after;  // when the remote party said when to come back
    bool uncertain = false;     // a request may have reached the remote party (a write may be applied)

    // "validation (HTTP 422): Rollout answered HTTP 422; upstream says: \"email: is invalid\""
    std::string describe() const {
        std::string out = code.message();
        if (status) out += " (HTTP " + std::to_string(status) + ")";
        out += ": " + message;
        if (!upstream.empty()) out += "; upstream says: \"" + upstream + "\"";
        return out;
    }
};

// Bad input found by our own checks, outside any layer's own codes.
inline Error invalid_argument(std::string message) {
    return Error{std::make_error_code(std::errc::invalid_argument), std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
public:
    // Default: an error, and explicit, so `return {};` does not compile for a Result<T> (for Result<void> it
    // means success). It exists for co_spawn with use_future, which default-constructs its result.
    explicit Result() : v_(std::in_place_index<1>, Error{std::make_error_code(std::errc::state_not_recoverable), "no result"}) {}
    // Reference overloads, not by-value parameters: GCC 12 can destroy a by-value parameter of a
    // converting constructor twice when the conversion happens in a co_return.
    Result(const T& value) : v_(std::in_place_index<0>, value) {}
    Result(T&& value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(const Error& error) : v_(std::in_place_index<1>, error) {}
    Result(Error&& error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { return has_value() ? std::get<0>(v_) : fail<T&>(); }
    const T& value() const& { return has_value() ? std::get<0>(v_) : fail<const T&>(); }
    // By value, so `for (auto& x : *make_result())` does not iterate a destroyed temporary.
    T value() && { return has_value() ? std::get<0>(std::move(v_)) : fail<T>(); }
    const Error& error() const& {
        if (has_value()) throw std::logic_error("Result::error() on a value");
        return std::get<1>(v_);
    }
    Error error() && {
        if (has_value()) throw std::logic_error("Result::error() on a value");
        return std::get<1>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

private:
    template <class R>
    R fail() const {
        throw std::logic_error("Result::value() on an error: " + std::get<1>(v_).describe());
    }
    std::variant<T, Error> v_;
};

// Success or an Error; default-constructed it is a success.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(const Error& error) : e_(error) {}
    Result(Error&& error) : e_(std::move(error)) {}

    bool has_value() const noexcept { return !e_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const {
        if (e_) throw std::logic_error("Result::value() on an error: " + e_->describe());
    }
    const Error& error() const& {
        if (!e_) throw std::logic_error("Result::error() on a value");
        return *e_;
    }
    Error error() && {
        if (!e_) throw std::logic_error("Result::error() on a value");
        return std::move(*e_);
    }

private:
    std::optional<Error> e_;
};

}  // namespace rollout_mcp
