// Each enum's names in one table, beside the enum: what the configuration spells, what metric
// labels and messages print, and what docs/configuration.md lists (tests/ops/docs_test.py reads
// the tables from the headers). Enumerators are numbered 0..N-1 in table order.
//
//     enum class Mode : std::uint8_t { unicast, replicate };
//     inline constexpr auto mode_names = util::name_table<Mode>("unicast", "replicate");
//     static_assert(mode_names.size() == std::size_t(Mode::replicate) + 1);
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace ptbsteer::util {

template <typename E, std::size_t N>
class NameTable {
  public:
    explicit constexpr NameTable(const std::array<std::string_view, N>& names) : names_(names) {}

    static constexpr std::size_t size() { return N; }
    // The name of `e`; "?" for a value outside the enum's enumerators.
    constexpr std::string_view name(E e) const {
        const auto i = static_cast<std::size_t>(e);
        return i < N ? names_[i] : std::string_view("?");
    }
    // The enumerator named `s`, or nullopt.
    constexpr std::optional<E> parse(std::string_view s) const {
        for (std::size_t i = 0; i < N; ++i)
            if (names_[i] == s) return static_cast<E>(i);
        return std::nullopt;
    }
    // Every name in enum order (for "must be one of ..." messages).
    constexpr std::span<const std::string_view> names() const { return names_; }

  private:
    std::array<std::string_view, N> names_;
};

// The table of E, one name per enumerator in order. Empty or repeated names do not compile.
template <typename E, typename... S>
consteval NameTable<E, sizeof...(S)> name_table(const S&... names) {
    const std::array<std::string_view, sizeof...(S)> a{std::string_view(names)...};
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].empty()) throw "name_table: an empty name";
        for (std::size_t j = 0; j < i; ++j)
            if (a[i] == a[j]) throw "name_table: a name given twice";
    }
    return NameTable<E, sizeof...(S)>(a);
}

} // namespace ptbsteer::util
