// The extension's Objective-C bridging header (build setting
// SWIFT_OBJC_BRIDGING_HEADER = TacetTunnel/TacetTunnel-Bridging-Header.h).
#include "SystemResolvers.h"
