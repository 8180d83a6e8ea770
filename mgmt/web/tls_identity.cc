#include "mgmt/web/tls_identity.h"
