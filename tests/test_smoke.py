def test_marketer_qualifies_a_lead_and_it_is_handed_to_its_owner(cast, qualified):
    assert qualified.state == "qualified"
    assert qualified.owner == cast.rep
    assert qualified.sequence == 1
    assert qualified.events.count() == 1
