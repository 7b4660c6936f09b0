// The seeded synthetic task that needs no download (design in synthetic.cpp). Private to
// datasets/: load() calls it for the dataset "synthetic".
#pragma once
#include "datasets/dataset.hpp"

namespace ffb::data {

// The synthetic train and test splits of `spec` (its synthetic_* sizes, seed, limits and validation
// size); load() carves the validation split and applies the limits afterwards, as for every dataset.
Splits load_synthetic(const DatasetSpec& spec);

}  // namespace ffb::data
