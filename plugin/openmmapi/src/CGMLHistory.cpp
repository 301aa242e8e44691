#include "internal/CGMLHistory.h"
#include "internal/CGMLSha256.h"
#include "openmm/OpenMMException.h"
#include <cstring>
#include <iostream>

using namespace CGMLPlugin;
using OpenMM::OpenMMException;
using std::to_string;

CGMLHistory::CGMLHistory(int length, int numBeads, const torch::Device& device) : valid(false), step(0) {
    torch::TensorOptions options = torch::TensorOptions().dtype(torch::kFloat64).device(device);
    frames = torch::zeros({length, numBeads, 3}, options);
    if (!frames.is_cpu() && length > 1)
        scratch = torch::empty({length - 1, numBeads, 3}, options);
}

void CGMLHistory::reset() {
    valid = false;
}

const torch::Tensor& CGMLHistory::prepare(const torch::Tensor& current, long long stepCount) {
    bool fresh = !valid || stepCount != step;
    const long k = frames.size(0);
    if (frames.is_cpu()) {
        // The CPU kernels take a step in tens of microseconds: plain copies, no torch ops.
        const size_t frame = 3 * frames.size(1);
        double* x = frames.data_ptr<double>();
        torch::Tensor c = current.contiguous();
        for (long f = (fresh ? 0 : k - 1); f < k; f++)
            std::memcpy(x + f * frame, c.data_ptr<double>(), frame * sizeof(double));
    }
    else if (fresh)
        frames.copy_(current.unsqueeze(0).expand_as(frames));
    else
        frames.select(0, k - 1).copy_(current);
    return frames;
}

void CGMLHistory::advance(const torch::Tensor& next, long long stepCount) {
    const long k = frames.size(0);
    if (frames.is_cpu()) {
        const size_t frame = 3 * frames.size(1);
        double* x = frames.data_ptr<double>();
        torch::Tensor n = next.contiguous();
        std::memmove(x, x + frame, (k - 1) * frame * sizeof(double));
        std::memcpy(x + (k - 1) * frame, n.data_ptr<double>(), frame * sizeof(double));
    }
    else {
        if (k > 1) {
            // The source and destination overlap: go through a buffer.
            scratch.copy_(frames.narrow(0, 1, k - 1));
            frames.narrow(0, 0, k - 1).copy_(scratch);
        }
        frames.select(0, k - 1).copy_(next);
    }
    step = stepCount;
    valid = true;
}

// The section's layout: magic, version, k, n, valid, step, seed, k*n*3 doubles, then 64 hex digits of
// the SHA-256 of everything before them.
static const char checkpointMagic[8] = {'C', 'G', 'M', 'L', 'H', 'I', 'S', 'T'};
static const int32_t checkpointVersion = 2;

namespace {

/** Appends plain values to a byte string. */
struct Bytes {
    std::string data;
    template <class T>
    void put(const T& value) {
        data.append((const char*) &value, sizeof(T));
    }
};

} // namespace

void CGMLHistory::write(std::ostream& stream, uint64_t seed) const {
    int32_t k = frames.size(0), n = frames.size(1);
    torch::Tensor host = frames.to(torch::kCPU).contiguous();
    Bytes section;
    section.data.append(checkpointMagic, sizeof(checkpointMagic));
    section.put(checkpointVersion);
    section.put(k);
    section.put(n);
    section.put((uint8_t) valid);
    section.put((int64_t) step);
    section.put(seed);
    section.data.append((const char*) host.data_ptr<double>(), sizeof(double) * host.numel());
    CGMLSha256 digest;
    digest.update(section.data);
    stream.write(section.data.data(), section.data.size());
    stream.write(digest.hexDigest().data(), 64);
}

uint64_t CGMLHistory::read(std::istream& stream) {
    const int32_t k = frames.size(0), n = frames.size(1);
    const std::string prefix = "CGMLIntegrator: cannot load the checkpoint: ";
    // Header: magic, version, k, n.
    const size_t headerSize = sizeof(checkpointMagic) + 3 * sizeof(int32_t);
    std::string header(headerSize, '\0');
    stream.read(&header[0], headerSize);
    if ((size_t) stream.gcount() < sizeof(checkpointMagic) || header.compare(0, sizeof(checkpointMagic), checkpointMagic, sizeof(checkpointMagic)) != 0)
        throw OpenMMException(prefix + "it holds no CGMLIntegrator state (it was written by another integrator, "
                              "or by an openmm-cgml older than checkpoint version " + to_string(checkpointVersion) + ")");
    if ((size_t) stream.gcount() < headerSize)
        throw OpenMMException(prefix + "it is truncated");
    int32_t version, savedK, savedN;
    std::memcpy(&version, &header[sizeof(checkpointMagic)], sizeof(int32_t));
    std::memcpy(&savedK, &header[sizeof(checkpointMagic) + 4], sizeof(int32_t));
    std::memcpy(&savedN, &header[sizeof(checkpointMagic) + 8], sizeof(int32_t));
    if (version != checkpointVersion)
        throw OpenMMException(prefix + "its CGMLIntegrator section has version " + to_string(version) + ", this plugin reads version " +
                              to_string(checkpointVersion));
    if (savedK != k || savedN != n)
        throw OpenMMException(prefix + "it holds a history of " + to_string(savedK) + " frames of " + to_string(savedN) +
                              " beads, this integrator needs " + to_string(k) + " of " + to_string(n));
    // Body and digest.
    const size_t bodySize = sizeof(uint8_t) + sizeof(int64_t) + sizeof(uint64_t) + sizeof(double) * 3 * (size_t) k * n;
    std::string body(bodySize + 64, '\0');
    stream.read(&body[0], body.size());
    if ((size_t) stream.gcount() != body.size())
        throw OpenMMException(prefix + "it is truncated (" + to_string(headerSize + stream.gcount()) + " of " +
                              to_string(headerSize + body.size()) + " bytes of the CGMLIntegrator section)");
    CGMLSha256 digest;
    digest.update(header);
    digest.update(body.data(), bodySize);
    if (digest.hexDigest() != body.substr(bodySize))
        throw OpenMMException(prefix + "its CGMLIntegrator section is corrupt (SHA-256 mismatch)");
    // Everything checked: now change the history.
    const char* p = body.data();
    uint8_t savedValid;
    int64_t savedStep;
    uint64_t seed;
    std::memcpy(&savedValid, p, sizeof(uint8_t));
    std::memcpy(&savedStep, p + 1, sizeof(int64_t));
    std::memcpy(&seed, p + 9, sizeof(uint64_t));
    torch::Tensor host = torch::empty(frames.sizes(), torch::kFloat64);
    std::memcpy(host.data_ptr<double>(), p + 17, sizeof(double) * host.numel());
    frames.copy_(host);
    valid = savedValid != 0;
    step = savedStep;
    return seed;
}
