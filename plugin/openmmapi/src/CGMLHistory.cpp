#include "internal/CGMLHistory.h"
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

void CGMLHistory::write(std::ostream& stream) const {
    int k = frames.size(0), n = frames.size(1);
    torch::Tensor host = frames.to(torch::kCPU).contiguous();
    stream.write((char*) &k, sizeof(int));
    stream.write((char*) &n, sizeof(int));
    stream.write((char*) &valid, sizeof(bool));
    stream.write((char*) &step, sizeof(long long));
    stream.write((char*) host.data_ptr<double>(), sizeof(double) * host.numel());
}

void CGMLHistory::read(std::istream& stream) {
    int k, n;
    stream.read((char*) &k, sizeof(int));
    stream.read((char*) &n, sizeof(int));
    if (k != frames.size(0) || n != frames.size(1))
        throw OpenMMException("CGMLIntegrator: the checkpoint holds a history of " + to_string(k) + " frames of " + to_string(n) +
                              " beads, this integrator needs " + to_string(frames.size(0)) + " of " + to_string(frames.size(1)));
    torch::Tensor host = torch::empty(frames.sizes(), torch::kFloat64);
    stream.read((char*) &valid, sizeof(bool));
    stream.read((char*) &step, sizeof(long long));
    stream.read((char*) host.data_ptr<double>(), sizeof(double) * host.numel());
    frames.copy_(host);
}
