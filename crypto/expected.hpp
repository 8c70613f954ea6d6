// A minimal expected<T, E> (C++20 has no std::expected): data-dependent failures travel as values,
// so callers of crypto/ and storage/ never need try/catch for a bad row or a wrong key.
#pragma once

#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace rollout_mcp {

template <class E>
struct Unexpected {
    E error;
};

template <class E>
Unexpected<std::decay_t<E>> unexpected(E&& e) {
    return Unexpected<std::decay_t<E>>{std::forward<E>(e)};
}

// Reading the wrong alternative is a programmer error, so it throws (never a data-dependent path).
[[noreturn]] inline void bad_expected_access(const char* what) {
    throw std::logic_error(what);
}

template <class T, class E>
class [[nodiscard]] Expected {
public:
    Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Expected(Unexpected<E> u) : v_(std::in_place_index<1>, std::move(u.error)) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & {
        if (!has_value()) bad_expected_access("Expected::value() called on an error");
        return std::get<0>(v_);
    }
    const T& value() const& {
        if (!has_value()) bad_expected_access("Expected::value() called on an error");
        return std::get<0>(v_);
    }
    // By value, so `for (auto& x : *make_result())` does not iterate a destroyed temporary.
    T value() && {
        if (!has_value()) bad_expected_access("Expected::value() called on an error");
        return std::get<0>(std::move(v_));
    }
    const E& error() const& {
        if (has_value()) bad_expected_access("Expected::error() called on a value");
        return std::get<1>(v_);
    }
    E error() && {
        if (has_value()) bad_expected_access("Expected::error() called on a value");
        return std::get<1>(std::move(v_));
    }

    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

private:
    std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Expected<void, E> {
public:
    Expected() = default;
    Expected(Unexpected<E> u) : e_(std::move(u.error)) {}

    bool has_value() const noexcept { return !e_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const {
        if (!has_value()) bad_expected_access("Expected::value() called on an error");
    }
    const E& error() const& {
        if (has_value()) bad_expected_access("Expected::error() called on a value");
        return *e_;
    }

private:
    std::optional<E> e_;
};

}  // namespace rollout_mcp
