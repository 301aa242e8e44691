#ifndef OPENMM_CGMLSHA256_H_
#define OPENMM_CGMLSHA256_H_

#include "internal/windowsExportCGML.h"
#include <cstddef>
#include <cstdint>
#include <string>

namespace CGMLPlugin {

/**
 * SHA-256 (FIPS 180-4), for checking a bundle's weights against the digest its metadata records
 * and for the checksum of the integrator's checkpoints.  Feed bytes with update(), then read
 * hexDigest() once.
 */
class OPENMM_EXPORT_CGML CGMLSha256 {
public:
    CGMLSha256();
    void update(const void* data, size_t length);
    void update(const std::string& text) {
        update(text.data(), text.size());
    }
    /** The digest as 64 lowercase hex digits; the object cannot be updated afterwards. */
    std::string hexDigest();
private:
    void block(const unsigned char* chunk);
    uint32_t state[8];
    unsigned char buffer[64];
    size_t buffered;
    uint64_t totalBytes;
    bool finished;
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLSHA256_H_*/
