// --device: the pure choice between the CPU and CUDA engines
// (engine/model/device_choice.h), for every combination of build and machine.
#include <gtest/gtest.h>

#include "engine/errors.h"
#include "engine/model/device_choice.h"

namespace kvs {
namespace {

CudaProbe no_build() { return CudaProbe{}; }
CudaProbe no_driver() { return CudaProbe{true, 0, "no usable CUDA driver (CUDA driver version is insufficient)"}; }
CudaProbe no_device() { return CudaProbe{true, 0, "no CUDA device on this machine"}; }
CudaProbe one_gpu() { return CudaProbe{true, 1, ""}; }

std::string error_of(const std::string& requested, const CudaProbe& probe) {
  try {
    choose_device(requested, probe);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceChoiceTest, AutoPicksCudaOnlyWhenBuiltWithItAndADeviceIsThere) {
  EXPECT_EQ(choose_device("auto", one_gpu()).device, Device::kCuda);
  for (const CudaProbe& probe : {no_build(), no_driver(), no_device()}) {
    const DeviceChoice choice = choose_device("auto", probe);
    EXPECT_EQ(choice.device, Device::kCpu);
    EXPECT_NE(choice.reason.find("running on the CPU"), std::string::npos) << choice.reason;
  }
}

TEST(DeviceChoiceTest, CpuIsAlwaysTheCpu) {
  for (const CudaProbe& probe : {no_build(), no_driver(), no_device(), one_gpu()}) {
    EXPECT_EQ(choose_device("cpu", probe).device, Device::kCpu);
  }
}

TEST(DeviceChoiceTest, CudaWithoutOneNamesTheCause) {
  EXPECT_NE(error_of("cuda", no_build()).find("built without CUDA"), std::string::npos);
  EXPECT_NE(error_of("cuda", no_driver()).find("no usable CUDA driver"), std::string::npos);
  EXPECT_NE(error_of("cuda", no_device()).find("no CUDA device"), std::string::npos);
  EXPECT_EQ(error_of("cuda", one_gpu()), "");
  EXPECT_EQ(choose_device("cuda", one_gpu()).device, Device::kCuda);
}

TEST(DeviceChoiceTest, UnknownNamesAreRefused) {
  EXPECT_THROW(choose_device("gpu", one_gpu()), InvalidArgument);
  EXPECT_THROW(choose_device("", no_build()), InvalidArgument);
}

}  // namespace
}  // namespace kvs
