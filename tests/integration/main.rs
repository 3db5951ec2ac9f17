//! End-to-end tests of meshsim, in one binary.
