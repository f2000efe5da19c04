#pragma once
#include "../../CNcursesw/shim.h"
