#include "mgmt/web/pages.h"
