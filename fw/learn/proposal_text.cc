// A proposal written into the policy text, through the MUD import's renderer
// (fw/mud/policy_text.h), so there is one way a profile becomes text.
#include "fw/learn/proposal.h"

namespace muzzle {

Result<ProfileTextResult> proposalText(std::string_view policy_text, std::string_view profile_name,
                                       const Proposal& proposal) {
  ProfileText edit;
  edit.profile = &proposal.profile;
  edit.name = std::string(profile_name);
  edit.rule_comments = proposal.rule_comments;
  return withProfile(policy_text, edit);
}

}  // namespace muzzle
