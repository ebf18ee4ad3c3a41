#define BOOST_TEST_MODULE ovlmount_unit
#include <boost/test/included/unit_test.hpp>
