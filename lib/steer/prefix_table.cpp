#include "steer/prefix_table.h"

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_memory.h>

namespace ptbsteer::steer {

namespace {

// rte_lpm_create/rte_lpm6_create fail with EEXIST on a name already in use in the process (and
// derive further object names from it, e.g. rte_lpm6's rule hash), so every table gets a short
// unique name.
std::atomic<std::uint32_t> table_serial{0};

std::string unique_name(const char* prefix) {
    char name[RTE_LPM_NAMESIZE];
    std::snprintf(name, sizeof(name), "%s%u", prefix, table_serial.fetch_add(1));
    return name;
}

std::string dpdk_error(const char* what, int err) {
    return std::string("prefix table: ") + what + ": " + rte_strerror(err < 0 ? -err : err);
}

bool host_bits_clear(const packet::IpAddr& a, unsigned len, unsigned end_bit) noexcept {
    for (unsigned bit = len; bit < end_bit; ++bit)
        if (a.b[bit / 8] & (0x80u >> (bit % 8))) return false;
    return true;
}

std::string prefix_text(packet::Family family, unsigned len) {
    return std::string(family == packet::Family::v4 ? "IPv4" : "IPv6") + " prefix /" +
           std::to_string(len);
}

} // namespace

PrefixTable::PrefixTable() : PrefixTable(Limits{}) {}

PrefixTable::PrefixTable(const Limits& limits, PrefixRecycler* recycler)
    : limits_(recycler ? recycler->limits() : limits), recycler_(recycler) {}

PrefixTable::~PrefixTable() {
    release();
}

PrefixTable::PrefixTable(PrefixTable&& other) noexcept
    : limits_(other.limits_), recycler_(other.recycler_), owned_(std::move(other.owned_)),
      v4_(other.v4_), v6_(other.v6_), default_v4_(other.default_v4_),
      default_v6_(other.default_v6_), rules_(other.rules_) {
    other.v4_ = nullptr;
    other.v6_ = nullptr;
    other.default_v4_.reset();
    other.default_v6_.reset();
    other.rules_ = 0;
}

PrefixTable& PrefixTable::operator=(PrefixTable&& other) noexcept {
    if (this != &other) {
        release();
        limits_ = other.limits_;
        recycler_ = other.recycler_;
        owned_ = std::move(other.owned_);
        v4_ = std::exchange(other.v4_, nullptr);
        v6_ = std::exchange(other.v6_, nullptr);
        default_v4_ = std::exchange(other.default_v4_, std::nullopt);
        default_v6_ = std::exchange(other.default_v6_, std::nullopt);
        rules_ = std::exchange(other.rules_, 0);
    }
    return *this;
}

PrefixTable PrefixTable::share() const {
    PrefixTable t(limits_);
    t.recycler_ = recycler_;
    t.owned_ = owned_;
    t.v4_ = v4_;
    t.v6_ = v6_;
    t.default_v4_ = default_v4_;
    t.default_v6_ = default_v6_;
    t.rules_ = rules_;
    return t;
}

PrefixTable::Handles::~Handles() {
    if (recycler) {
        if (v4) recycler->give(v4, v4_rules);
        if (v6) recycler->give(v6, v6_rules);
        return;
    }
    if (v4) rte_lpm_free(v4);
    if (v6) rte_lpm6_free(v6);
}

PrefixTable::Handles& PrefixTable::handles() {
    if (!owned_) {
        owned_ = std::make_shared<Handles>();
        owned_->recycler = recycler_;
    }
    return *owned_;
}

void PrefixTable::release() noexcept {
    owned_.reset(); // frees the DPDK tables if no other table shares them
    v4_ = nullptr;
    v6_ = nullptr;
}

void PrefixTable::create_v4() {
    rte_lpm_config cfg{};
    cfg.max_rules = limits_.max_rules_v4;
    cfg.number_tbl8s = limits_.tbl8s_v4;
    const std::string name = unique_name("ptbs4_");
    v4_ = recycler_ ? recycler_->take_v4() : nullptr;
    if (!v4_) v4_ = rte_lpm_create(name.c_str(), limits_.socket_id, &cfg);
    if (!v4_) throw std::runtime_error(dpdk_error("rte_lpm_create", rte_errno));
    handles().v4 = v4_;
}

void PrefixTable::create_v6() {
    rte_lpm6_config cfg{};
    cfg.max_rules = limits_.max_rules_v6;
    cfg.number_tbl8s = limits_.tbl8s_v6;
    const std::string name = unique_name("ptbs6_");
    v6_ = recycler_ ? recycler_->take_v6() : nullptr;
    if (!v6_) v6_ = rte_lpm6_create(name.c_str(), limits_.socket_id, &cfg);
    if (!v6_) throw std::runtime_error(dpdk_error("rte_lpm6_create", rte_errno));
    handles().v6 = v6_;
}

void PrefixTable::add(packet::Family family, const packet::IpAddr& prefix, std::uint8_t len,
                      std::uint32_t group_id) {
    if (owned_ && owned_.use_count() > 1)
        throw std::logic_error("prefix table: add() on a table shared with another");
    const bool v4 = family == packet::Family::v4;
    const unsigned width = v4 ? 32 : 128;
    if (len > width)
        throw std::invalid_argument(prefix_text(family, len) + ": length exceeds " +
                                    std::to_string(width));
    // Checked over all 16 bytes: an IPv4 IpAddr must also keep bytes 4..15 zero.
    if (!host_bits_clear(prefix, len, 128))
        throw std::invalid_argument(prefix_text(family, len) + ": address has bits set beyond " +
                                    "the prefix length");
    if (group_id > max_group_id)
        throw std::invalid_argument("prefix table: group id " + std::to_string(group_id) +
                                    " exceeds " + std::to_string(max_group_id));

    if (len == 0) {
        std::optional<std::uint32_t>& slot = v4 ? default_v4_ : default_v6_;
        if (slot) throw std::invalid_argument(prefix_text(family, len) + ": duplicate prefix");
        slot = group_id;
        ++rules_;
        return;
    }

    int rc = 0;
    if (v4) {
        if (!v4_) create_v4();
        std::uint32_t existing = 0;
        if (rte_lpm_is_rule_present(v4_, v4_host_order(prefix), len, &existing) == 1)
            throw std::invalid_argument(prefix_text(family, len) + ": duplicate prefix");
        rc = rte_lpm_add(v4_, v4_host_order(prefix), len, group_id);
    } else {
        if (!v6_) create_v6();
        std::uint32_t existing = 0;
        if (rte_lpm6_is_rule_present(v6_, prefix.b.data(), len, &existing) == 1)
            throw std::invalid_argument(prefix_text(family, len) + ": duplicate prefix");
        rc = rte_lpm6_add(v6_, prefix.b.data(), len, group_id);
    }
    if (rc < 0) throw std::runtime_error(dpdk_error(v4 ? "rte_lpm_add" : "rte_lpm6_add", rc));
    (v4 ? owned_->v4_rules : owned_->v6_rules).push_back(Rule{prefix, len});
    ++rules_;
}

PrefixRecycler::~PrefixRecycler() {
    for (rte_lpm* t : v4_)
        rte_lpm_free(t);
    for (rte_lpm6* t : v6_)
        rte_lpm6_free(t);
}

rte_lpm* PrefixRecycler::take_v4() {
    const std::lock_guard lock(m_);
    if (v4_.empty()) return nullptr;
    rte_lpm* t = v4_.back();
    v4_.pop_back();
    return t;
}

rte_lpm6* PrefixRecycler::take_v6() {
    const std::lock_guard lock(m_);
    if (v6_.empty()) return nullptr;
    rte_lpm6* t = v6_.back();
    v6_.pop_back();
    return t;
}

void PrefixRecycler::give(rte_lpm* t, const std::vector<PrefixTable::Rule>& rules) {
    {
        const std::lock_guard lock(m_);
        bool empty = v4_.size() < keep_;
        for (std::size_t i = 0; empty && i < rules.size(); ++i)
            empty = rte_lpm_delete(t, PrefixTable::v4_host_order(rules[i].addr), rules[i].len) == 0;
        if (empty) {
            v4_.push_back(t);
            return;
        }
    }
    rte_lpm_free(t);
}

void PrefixRecycler::give(rte_lpm6* t, const std::vector<PrefixTable::Rule>& rules) {
    {
        const std::lock_guard lock(m_);
        bool empty = v6_.size() < keep_;
        for (std::size_t i = 0; empty && i < rules.size(); ++i)
            empty = rte_lpm6_delete(t, rules[i].addr.b.data(), rules[i].len) == 0;
        if (empty) {
            v6_.push_back(t);
            return;
        }
    }
    rte_lpm6_free(t);
}

std::size_t PrefixRecycler::kept() const {
    const std::lock_guard lock(m_);
    return v4_.size() + v6_.size();
}

} // namespace ptbsteer::steer
