#include "mgmt/web/https_server.h"
