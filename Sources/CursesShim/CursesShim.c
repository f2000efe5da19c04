#include "CursesShim.h"
