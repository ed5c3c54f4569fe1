// Each part of the module binds its own classes.
#pragma once

#include <pybind11/pybind11.h>

namespace shmyolo::python {

void bind_producer(pybind11::module_& m);  // producer.cpp
void bind_consumer(pybind11::module_& m);  // consumer.cpp
void bind_results(pybind11::module_& m);   // results.cpp

}  // namespace shmyolo::python
