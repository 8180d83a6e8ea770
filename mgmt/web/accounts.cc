#include "mgmt/web/accounts.h"
