// A reference CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by
// bit, for the token checks of the fuzz targets: independent of the core's
// own implementation (and of zlib, which the core may use), so that a
// mistake in either one shows up as a disagreement.
#pragma once

#include <cstdint>
#include <string_view>

namespace fuzz_reference {

inline std::uint32_t crc32_ieee(std::string_view bytes) {
    std::uint32_t crc = 0xFFFFFFFFU;
    for (const char c : bytes) {
        crc ^= static_cast<unsigned char>(c);
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1U) ? 0xEDB88320U : 0U);
    }
    return crc ^ 0xFFFFFFFFU;
}

}  // namespace fuzz_reference
